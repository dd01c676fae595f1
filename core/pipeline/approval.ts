/**
 * Approving a model. The AwaitApproval state (`lambda:invoke.waitForTaskToken`) passes its task
 * token to the notify function as `taskToken`; the token is therefore in the execution's own
 * history (the TaskScheduled event's parameters), where `mlpipe approve` / `mlpipe reject` find it.
 * No second store of tokens to keep in step, and approving needs exactly what AWS checks anyway:
 * states:GetExecutionHistory and states:SendTaskSuccess/Failure on that execution.
 */

/** The error name the AwaitApproval state catches to record a reviewer's rejection. */
export const REVIEWER_REJECTION_ERROR = 'ModelRejectedByReviewer';

/** The state of the training state machine that waits for a person. */
export const APPROVAL_STATE = 'AwaitApproval';

export class ApprovalError extends Error {
  override name = 'ApprovalError';
}

/** `arn:aws:states:…:execution:<machine>:<name>` or a bare name → the name. */
export const executionName = (execution: string): string => {
  const name = execution.includes(':') ? execution.slice(execution.lastIndexOf(':') + 1) : execution;
  if (!/^[\w-]{1,80}$/.test(name)) throw new ApprovalError(`not an execution name or ARN: "${execution}"`);
  return name;
};

/** The execution ARN of `name` in the state machine `stateMachineArn`. */
export const executionArn = (stateMachineArn: string, execution: string): string =>
  execution.startsWith('arn:')
    ? execution
    : `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName(execution)}`;

interface HistoryEventLike {
  readonly id?: number | undefined;
  readonly type?: string | undefined;
  readonly taskScheduledEventDetails?: { readonly parameters?: string | undefined } | undefined;
}

/**
 * The token of the task that is waiting, if any: the last TaskScheduled event whose parameters carry
 * a `taskToken`, provided no later event says that task already ended.
 */
export const pendingTaskToken = (events: readonly HistoryEventLike[]): string | undefined => {
  const ordered = [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  let token: string | undefined;
  for (const event of ordered) {
    if (event.type === 'TaskScheduled') {
      const parameters = event.taskScheduledEventDetails?.parameters;
      if (!parameters) continue;
      try {
        const payload = (JSON.parse(parameters) as { Payload?: { taskToken?: unknown } }).Payload;
        token = typeof payload?.taskToken === 'string' ? payload.taskToken : undefined;
      } catch {
        token = undefined;
      }
    } else if (token && /^(Task|Execution)(Succeeded|Failed|TimedOut|Aborted)$/.test(event.type ?? '')) {
      token = undefined;
    }
  }
  return token;
};

/** What the AwaitApproval state receives on SendTaskSuccess (becomes `$.approval`). */
export const approvalOutput = (reviewer: string, comment: string | undefined, now: Date) => ({
  approvedBy: reviewer,
  comment: comment ?? '',
  at: now.toISOString(),
});
