import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { answerApproval } from '../../../cli/run/approval';
import { type RunningLambda, startLambda } from '../../../local/lambda';
import { type RunningSfn, startSfn } from '../../../local/sfn';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/types';

const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-sfn-'));
let lambda: RunningLambda;
let sfn: RunningSfn;
let client: SFNClient;
const STEP = 'arn:aws:lambda:us-east-1:000000000000:function:mlpipe-local-step';

const definition = {
  StartAt: 'Double',
  States: {
    Double: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: STEP, Payload: { op: 'double', 'value.$': '$.value' } },
      ResultSelector: { 'value.$': '$.Payload.value' },
      ResultPath: '$.doubled',
      Next: 'Query',
    },
    Query: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: STEP, Payload: { 'op.$': '$.query' } },
      ResultPath: '$.queried',
      Retry: [{ ErrorEquals: ['AthenaQueryFailedError'], IntervalSeconds: 0, MaxAttempts: 1 }],
      Catch: [{ ErrorEquals: ['AthenaQueryFailedError'], ResultPath: '$.error', Next: 'Recorded' }],
      Next: 'Pause',
    },
    Pause: { Type: 'Wait', SecondsPath: '$.pause', Next: 'AwaitApproval' },
    AwaitApproval: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: STEP, Payload: { op: 'notify', 'taskToken.$': '$$.Task.Token' } },
      ResultPath: '$.approval',
      Catch: [{ ErrorEquals: ['ModelRejectedByReviewer'], ResultPath: '$.rejection', Next: 'Rejected' }],
      Next: 'Approved',
    },
    Recorded: { Type: 'Pass', End: true },
    Approved: { Type: 'Succeed' },
    Rejected: { Type: 'Fail', Error: 'Rejected', Cause: 'a reviewer rejected the model' },
  },
};

let machineArn = '';
beforeAll(async () => {
  lambda = await startLambda({ port: 0 });
  lambda.register({
    functionName: 'mlpipe-local-step',
    handler: 'test/events/local/functions/step.handler',
    root: join(__dirname, '../../..'),
    environment: {},
    timeoutSeconds: 10,
    memorySize: 128,
  });
  sfn = await startSfn({ port: 0, dataDir, lambdaEndpoint: lambda.url });
  client = new SFNClient({ endpoint: sfn.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const created = await client.send(
    new CreateStateMachineCommand({
      name: 'mlpipe-local-training',
      definition: JSON.stringify(definition),
      roleArn: 'arn:aws:iam::000000000000:role/mlpipe-local-training-states',
    }),
  );
  machineArn = created.stateMachineArn ?? '';
});
afterAll(async () => {
  client.destroy();
  await sfn.stop();
  await lambda.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const until = async (
  arn: string,
  status: (s: string | undefined) => boolean,
): Promise<DescribeExecutionCommandOutput> => {
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeExecutionCommand({ executionArn: arn }));
    if (status(d.status)) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${arn} never reached the expected status`);
};
/** Starts an execution of the test machine and returns its ARN. */
const start = async (name: string, input: { value: number; query: string; pause: number }): Promise<string> =>
  (
    await client.send(
      new StartExecutionCommand({ stateMachineArn: machineArn, name, input: JSON.stringify(input) }),
    )
  ).executionArn ?? '';

const waitingForApproval = async (arn: string) => {
  for (let i = 0; i < 200; i++) {
    const h = await client.send(new GetExecutionHistoryCommand({ executionArn: arn }));
    if ((h.events ?? []).some((e) => e.type === 'TaskSubmitted')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('never waited for approval');
};

/**
 * What breaks the order AWS writes a run of states one after another in: a state entered before the
 * one before it exited, a task's event outside its state, event ids out of sequence.
 */
const orderProblems = (events: readonly HistoryEvent[]): string[] => {
  const problems: string[] = [];
  let inside: string | undefined;
  events.forEach((e, i) => {
    if (e.id !== i + 1 || e.previousEventId !== i) problems.push(`event ${i + 1} numbered ${e.id}`);
    const entered = e.stateEnteredEventDetails?.name;
    const exited = e.stateExitedEventDetails?.name;
    if (entered !== undefined) {
      if (inside !== undefined) problems.push(`${entered} entered at ${e.id} before ${inside} exited`);
      inside = entered;
    } else if (exited !== undefined) {
      if (exited !== inside) problems.push(`${exited} exited at ${e.id} while in ${inside}`);
      inside = undefined;
    } else if (e.type?.startsWith('Task') && inside === undefined) {
      problems.push(`${e.type} at ${e.id} outside any state`);
    }
  });
  return problems;
};

describe('the local Step Functions', () => {
  it('runs Lambda tasks, a Wait from a path and a task token answered by `mlpipe approve`', async () => {
    const executionArn = await start('run-1', { value: 21, query: 'echo', pause: 1 });
    await waitingForApproval(executionArn);
    const answered = await answerApproval(client, {
      decision: 'approve',
      execution: 'run-1',
      stage: 'local',
      reviewer: 'ana',
    });
    expect(answered).toBe(executionArn);
    const done = await until(executionArn, (s) => s !== 'RUNNING');
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output ?? '{}') as {
      doubled: { value: number };
      approval: { approvedBy: string };
    };
    expect(output.doubled.value).toBe(42);
    expect(output.approval.approvedBy).toBe('ana');
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    const types = (history.events ?? []).map((e) => e.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types).toEqual(
      expect.arrayContaining([
        'TaskStateEntered',
        'TaskScheduled',
        'TaskSucceeded',
        'WaitStateEntered',
        'TaskSubmitted',
      ]),
    );
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    const scheduled = history.events?.find((e) => e.type === 'TaskScheduled');
    expect(JSON.parse(scheduled?.taskScheduledEventDetails?.parameters ?? '{}')).toMatchObject({
      Payload: { op: 'double', value: 21 },
    });
    expect(scheduled?.taskScheduledEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke',
    });
    // State by state, as AWS writes it, though the engine reports its states late.
    expect(orderProblems(history.events ?? [])).toEqual([]);
    expect(
      (history.events ?? [])
        .filter((e) => e.stateEnteredEventDetails)
        .map((e) => e.stateEnteredEventDetails?.name),
    ).toEqual(['Double', 'Query', 'Pause', 'AwaitApproval', 'Approved']);

    // Without execution data: the same events, with no state's input or output in them.
    const bare = await client.send(
      new GetExecutionHistoryCommand({ executionArn, includeExecutionData: false }),
    );
    expect((bare.events ?? []).map((e) => [e.id, e.type])).toEqual(
      (history.events ?? []).map((e) => [e.id, e.type]),
    );
    const data = (bare.events ?? []).flatMap((e) =>
      Object.entries(e)
        .filter(([key]) => key.endsWith('EventDetails'))
        .flatMap(([, details]) =>
          Object.keys(details as object).filter((k) => k === 'input' || k === 'output'),
        ),
    );
    expect(data).toEqual([]);
    expect(bare.events?.find((e) => e.type === 'TaskScheduled')?.taskScheduledEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke',
    });
  });

  it('records a rejection from `mlpipe reject` as the reviewer error the state machine catches', async () => {
    const executionArn = await start('run-2', { value: 1, query: 'echo', pause: 0 });
    await waitingForApproval(executionArn);
    await answerApproval(client, {
      decision: 'reject',
      execution: executionArn,
      stage: 'local',
      reviewer: 'ana',
      text: 'labels look shuffled',
    });
    const done = await until(executionArn, (s) => s !== 'RUNNING');
    expect(done).toMatchObject({ status: 'FAILED', error: 'Rejected' });
  });

  it('stops an execution that waits for approval, after which approving it is refused', async () => {
    const executionArn = await start('run-stopped', { value: 1, query: 'echo', pause: 0 });
    await waitingForApproval(executionArn);
    await client.send(new StopExecutionCommand({ executionArn }));
    const done = await until(executionArn, (s) => s !== 'RUNNING');
    expect(done.status).toBe('ABORTED');
    await expect(
      answerApproval(client, {
        decision: 'approve',
        execution: executionArn,
        stage: 'local',
        reviewer: 'ana',
      }),
    ).rejects.toThrow('is not waiting for approval');
  });

  it('retries and catches a task error by its name', async () => {
    const executionArn = await start('run-3', { value: 1, query: 'fail', pause: 0 });
    const done = await until(executionArn, (s) => s !== 'RUNNING');
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output ?? '{}') as { error: { Error: string; Cause: string } };
    expect(output.error.Error).toBe('AthenaQueryFailedError');
    expect(output.error.Cause).toContain('the query failed: table not found');
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    const events = history.events ?? [];
    expect(events.filter((e) => e.type === 'TaskFailed')).toHaveLength(2);
    // The failure is the Query state's: it reads before the state its Catch entered, as in AWS
    // (the local engine reports states late and often within the same millisecond).
    const lastFailure = events.findLastIndex((e) => e.type === 'TaskFailed');
    const caught = events.findIndex((e) => e.stateEnteredEventDetails?.name === 'Recorded');
    const queryExited = events.findIndex((e) => e.stateExitedEventDetails?.name === 'Query');
    expect(lastFailure).toBeLessThan(caught);
    expect(queryExited).toBeGreaterThan(lastFailure);
    expect(queryExited).toBeLessThan(caught);
    expect(orderProblems(events)).toEqual([]);
  });

  it('refuses a second execution with the same name', async () => {
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: machineArn, name: 'run-3', input: '{}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('ends an execution the local cloud stopped under as failed, with the reason, seen after a restart', async () => {
    const executionArn = await start('run-interrupted', { value: 1, query: 'echo', pause: 0 });
    await waitingForApproval(executionArn);
    await sfn.stop();
    sfn = await startSfn({ port: 0, dataDir, lambdaEndpoint: lambda.url });
    client.destroy();
    client = new SFNClient({ endpoint: sfn.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    expect(await client.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: 'the local cloud stopped while this execution was running',
    });
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(history.events?.at(-1)?.type).toBe('ExecutionFailed');
  });

  it('keeps every execution and its history across a restart', async () => {
    await sfn.stop();
    sfn = await startSfn({ port: 0, dataDir, lambdaEndpoint: lambda.url });
    client.destroy();
    client = new SFNClient({ endpoint: sfn.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const again = await client.send(
      new DescribeExecutionCommand({
        executionArn: `${machineArn.replace(':stateMachine:', ':execution:')}:run-1`,
      }),
    );
    expect(again.status).toBe('SUCCEEDED');
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: again.executionArn }));
    expect(history.events?.at(-1)?.type).toBe('ExecutionSucceeded');
  });
});
