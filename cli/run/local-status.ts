import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  paginateListExecutions,
  paginateListStateMachines,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { executionHistory, lastEntered } from './follow';

/** One execution as `mlpipe local status` shows it. */
export interface ExecutionStatus {
  readonly stateMachine: string;
  readonly name: string;
  readonly arn: string;
  readonly status: string;
  readonly startDate: Date | undefined;
  readonly stopDate: Date | undefined;
  /** Running: the state it is in now. Ended: the error and its cause, when it failed. */
  readonly detail: string;
}

/** Every execution of every state machine, with the machine's name: ListExecutions only. */
const allExecutions = async (sfn: SFNClient) => {
  const all: { stateMachine: string; execution: ExecutionListItem }[] = [];
  for await (const machines of paginateListStateMachines({ client: sfn }, {}))
    for (const m of machines.stateMachines ?? [])
      for await (const page of paginateListExecutions(
        { client: sfn, pageSize: 1000 },
        { stateMachineArn: m.stateMachineArn },
      ))
        for (const execution of page.executions ?? []) all.push({ stateMachine: m.name ?? '', execution });
  return all;
};

const detailOf = async (sfn: SFNClient, execution: ExecutionListItem): Promise<string> => {
  const arn = execution.executionArn ?? '';
  if (execution.status === 'RUNNING') {
    const entered = lastEntered(await executionHistory(sfn, arn));
    return `in ${entered?.stateEnteredEventDetails?.name ?? '(starting)'}`;
  }
  if (execution.status === 'SUCCEEDED') return '';
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  return [described.error, described.cause].filter(Boolean).join(': ');
};

/** Every execution of every state machine, oldest first, with where each one is or why it ended. */
export const executionStatuses = async (sfn: SFNClient): Promise<ExecutionStatus[]> => {
  const statuses: ExecutionStatus[] = [];
  for (const { stateMachine, execution } of await allExecutions(sfn)) {
    statuses.push({
      stateMachine,
      name: execution.name ?? '',
      arn: execution.executionArn ?? '',
      status: execution.status ?? 'UNKNOWN',
      startDate: execution.startDate,
      stopDate: execution.stopDate,
      detail: await detailOf(sfn, execution),
    });
  }
  return statuses.sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
};

/** The execution with this name or ARN, and its machine's name; none of the others is looked into. */
export const findExecution = async (
  sfn: SFNClient,
  nameOrArn: string,
): Promise<{ stateMachine: string; name: string; arn: string } | undefined> => {
  const found = (await allExecutions(sfn)).find(
    ({ execution }) => execution.name === nameOrArn || execution.executionArn === nameOrArn,
  );
  return (
    found && {
      stateMachine: found.stateMachine,
      name: found.execution.name ?? '',
      arn: found.execution.executionArn ?? '',
    }
  );
};

export const formatStatus = (s: ExecutionStatus): string => {
  const started = s.startDate ? s.startDate.toISOString().replace('T', ' ').slice(0, 19) : '?';
  const took =
    s.startDate && s.stopDate
      ? ` ${((s.stopDate.getTime() - s.startDate.getTime()) / 1000).toFixed(1)} s`
      : '';
  return `${s.status.padEnd(9)} ${started}${took}  ${s.stateMachine}:${s.name}${s.detail ? `  ${s.detail.slice(0, 200)}` : ''}`;
};
