import {
  paginateListStateMachines,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import {
  ApprovalError,
  approvalOutput,
  executionArn,
  pendingTaskToken,
  REVIEWER_REJECTION_ERROR,
} from '../../core/pipeline';
import { DEFAULT_LOCAL_DATA_DIR, useLocalCloud } from '../aws';
import { UsageError } from '../command';
import { parseArgs } from '../options';
import { executionHistory } from './follow';

export const trainingStateMachineName = (stage: string): string => `mlpipe-${stage}-training`;

const findStateMachine = async (sfn: SFNClient, name: string): Promise<string> => {
  for await (const page of paginateListStateMachines({ client: sfn }, {})) {
    const found = page.stateMachines?.find((m) => m.name === name);
    if (found?.stateMachineArn) return found.stateMachineArn;
  }
  throw new ApprovalError(
    `no state machine named ${name}: is the stage deployed (or the local cloud started)?`,
  );
};

export interface ReviewDecision {
  readonly decision: 'approve' | 'reject';
  readonly execution: string;
  readonly stage: string;
  readonly reviewer: string;
  readonly text?: string;
}

/** Answers the AwaitApproval task of an execution; returns the execution ARN it answered. */
export const answerApproval = async (sfn: SFNClient, review: ReviewDecision): Promise<string> => {
  const arn = review.execution.startsWith('arn:')
    ? review.execution
    : executionArn(await findStateMachine(sfn, trainingStateMachineName(review.stage)), review.execution);
  const taskToken = pendingTaskToken(await executionHistory(sfn, arn));
  if (!taskToken) throw new ApprovalError(`${arn} is not waiting for approval`);
  if (review.decision === 'approve') {
    const output = approvalOutput(review.reviewer, review.text, new Date());
    await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
  } else {
    await sfn.send(
      new SendTaskFailureCommand({
        taskToken,
        error: REVIEWER_REJECTION_ERROR,
        cause: `${review.reviewer}: ${review.text ?? 'rejected'}`.slice(0, 32768),
      }),
    );
  }
  return arn;
};

const FLAGS = {
  stage: 'string',
  'data-dir': 'string',
  reviewer: 'string',
  comment: 'string',
  reason: 'string',
} as const;

/** Shared by `mlpipe approve` and `mlpipe reject`. */
export const runReview = async (
  decision: 'approve' | 'reject',
  args: readonly string[],
  out: (line: string) => void,
): Promise<number> => {
  const { flags, positional } = parseArgs(args, FLAGS);
  const [execution, ...extra] = positional;
  if (!execution || extra.length > 0) throw new UsageError('expected exactly one execution name or ARN');
  const text = decision === 'approve' ? flags.comment : flags.reason;
  if (decision === 'reject' && !text) throw new UsageError('--reason is required: say why, it is recorded');
  const stage = flags.stage ?? 'local';
  // `mlpipe local --stage prod` runs a stage that requires approval on this machine: --data-dir
  // names that local cloud whatever the stage; without it only stage `local` is local.
  const dataDir = flags['data-dir'] ?? (stage === 'local' ? DEFAULT_LOCAL_DATA_DIR : undefined);
  if (dataDir) await useLocalCloud(dataDir);
  const sfn = new SFNClient({});
  const reviewer = flags.reviewer ?? process.env.USER ?? 'unknown reviewer';
  const arn = await answerApproval(sfn, {
    decision,
    execution,
    stage,
    reviewer,
    ...(text ? { text } : {}),
  }).finally(() => sfn.destroy());
  out(`${decision === 'approve' ? 'approved' : 'rejected'}: ${arn}`);
  return 0;
};
