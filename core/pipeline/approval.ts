import { z } from 'zod';

/**
 * A pending approval. The AwaitApproval state hands its task token to the notify function, which
 * stores it here; `mlpipe approve <execution>` and `mlpipe reject <execution>` read it back and answer
 * Step Functions with SendTaskSuccess / SendTaskFailure. The token never travels through a
 * notification, so whoever can read the topic cannot approve.
 */
export const approvalRequestSchema = z.strictObject({
  pipeline: z.string(),
  execution: z.string(),
  modelVersion: z.string().nullable(),
  taskToken: z.string().min(1),
  requestedAt: z.string(),
});
export type ApprovalRequest = z.output<typeof approvalRequestSchema>;

/** The error name the AwaitApproval state catches to record a reviewer's rejection. */
export const REVIEWER_REJECTION_ERROR = 'ModelRejectedByReviewer';

export class ApprovalError extends Error {
  override name = 'ApprovalError';
}

/** `arn:aws:states:…:execution:<machine>:<name>` or a bare name → the name. */
export const executionName = (execution: string): string => {
  const name = execution.includes(':') ? execution.slice(execution.lastIndexOf(':') + 1) : execution;
  if (!/^[\w-]{1,80}$/.test(name)) throw new ApprovalError(`not an execution name or ARN: "${execution}"`);
  return name;
};

export const approvalKey = (execution: string): string => `approvals/${executionName(execution)}.json`;

export const parseApprovalRequest = (text: string, where: string): ApprovalRequest => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ApprovalError(`${where}: not JSON`, { cause });
  }
  const parsed = approvalRequestSchema.safeParse(json);
  if (!parsed.success) {
    const problem = parsed.error.issues[0];
    throw new ApprovalError(
      `${where}: ${problem?.path.join('.') || '(root)'}: ${problem?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
};

/** What the AwaitApproval state receives on SendTaskSuccess (becomes `$.approval`). */
export const approvalOutput = (reviewer: string, comment: string | undefined, now: Date) => ({
  approvedBy: reviewer,
  comment: comment ?? '',
  at: now.toISOString(),
});
