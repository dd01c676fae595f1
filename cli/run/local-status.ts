import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  paginateListExecutions,
  paginateListStateMachines,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { executionHistory } from './follow';

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

const allMachines = async (sfn: SFNClient) => {
  const machines: { name: string; arn: string }[] = [];
  for await (const page of paginateListStateMachines({ client: sfn }, {}))
    for (const m of page.stateMachines ?? [])
      if (m.name && m.stateMachineArn) machines.push({ name: m.name, arn: m.stateMachineArn });
  return machines;
};

const allExecutions = async (sfn: SFNClient, stateMachineArn: string) => {
  const executions: ExecutionListItem[] = [];
  for await (const page of paginateListExecutions({ client: sfn, pageSize: 1000 }, { stateMachineArn }))
    executions.push(...(page.executions ?? []));
  return executions;
};

const detailOf = async (sfn: SFNClient, execution: ExecutionListItem): Promise<string> => {
  const arn = execution.executionArn ?? '';
  if (execution.status === 'RUNNING') {
    const entered = (await executionHistory(sfn, arn)).findLast((e) => e.type?.endsWith('StateEntered'));
    return `in ${entered?.stateEnteredEventDetails?.name ?? '(starting)'}`;
  }
  if (execution.status === 'SUCCEEDED') return '';
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  return [described.error, described.cause].filter(Boolean).join(': ');
};

/** Every execution of every state machine, oldest first, with where each one is or why it ended. */
export const executionStatuses = async (sfn: SFNClient): Promise<ExecutionStatus[]> => {
  const statuses: ExecutionStatus[] = [];
  for (const machine of await allMachines(sfn)) {
    for (const execution of await allExecutions(sfn, machine.arn)) {
      statuses.push({
        stateMachine: machine.name,
        name: execution.name ?? '',
        arn: execution.executionArn ?? '',
        status: execution.status ?? 'UNKNOWN',
        startDate: execution.startDate,
        stopDate: execution.stopDate,
        detail: await detailOf(sfn, execution),
      });
    }
  }
  return statuses.sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
};

export const formatStatus = (s: ExecutionStatus): string => {
  const started = s.startDate ? s.startDate.toISOString().replace('T', ' ').slice(0, 19) : '?';
  const took =
    s.startDate && s.stopDate
      ? ` ${((s.stopDate.getTime() - s.startDate.getTime()) / 1000).toFixed(1)} s`
      : '';
  return `${s.status.padEnd(9)} ${started}${took}  ${s.stateMachine}:${s.name}${s.detail ? `  ${s.detail.slice(0, 200)}` : ''}`;
};
