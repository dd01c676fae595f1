import './polyfill';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { AwsServiceError } from '../protocol/errors';
import { startJsonService } from '../protocol/json';
import {
  LOCAL_ACCOUNT_ID,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalServiceKey,
  type RunningService,
} from '../types';
import { ExecutionHistory, type HistoryEvent, withoutData } from './history';
import { destroyClients, runTask, serviceClients, TaskError, taskStates } from './tasks';

/**
 * Step Functions over its JSON protocol, executions run by the aws-local-stepfunctions engine. Task
 * states call the other local services through their SDK clients (see tasks.ts); the history of
 * every execution is kept with AWS's event types, so `mlpipe run` (and any client) can follow it.
 * State machines and executions are written to `<dataDir>/sfn/state.json`; an execution that was
 * running when the local cloud stopped is recorded as ABORTED on the next start.
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_Operations.html
 */
interface StoredMachine {
  name: string;
  arn: string;
  definition: string;
  roleArn: string;
  type: string;
  createdAt: number;
}

interface StoredExecution {
  arn: string;
  name: string;
  stateMachineArn: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
}

export interface RunningSfn extends RunningService {
  readonly port: number;
  /** Resolves when no execution is running. */
  idle(): Promise<void>;
}

const machineArn = (name: string) =>
  `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
const NAME = /^[A-Za-z0-9_-]{1,80}$/;

const STATE_EVENT: Record<string, string> = {
  Task: 'Task',
  Choice: 'Choice',
  Wait: 'Wait',
  Pass: 'Pass',
  Succeed: 'Succeed',
  Fail: 'Fail',
  Map: 'Map',
  Parallel: 'Parallel',
};

/** How an execution ends when the local cloud stops under it (issue: never left running forever). */
const INTERRUPTED = {
  error: 'States.Runtime',
  cause: 'the local cloud stopped while this execution was running',
} as const;

/**
 * How an execution that threw ends: stopped by StopExecution (ABORTED, as in AWS), stopped under by
 * the local cloud itself (FAILED, with the reason), timed out, or failed with its error.
 */
const endingOf = (error: Error, closing: boolean): Pick<StoredExecution, 'status' | 'error' | 'cause'> => {
  if (error.name === 'ExecutionAbortedError')
    return closing
      ? { status: 'FAILED', ...INTERRUPTED }
      : { status: 'ABORTED', error: 'States.Aborted', cause: 'stopped' };
  const cause = (error.cause ?? error) as Error;
  return {
    status: error.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED',
    error: cause.name,
    cause: cause.message,
  };
};

export const startSfn = async ({
  port,
  dataDir,
  lambdaEndpoint,
  endpoints = {},
  pollMillis = 1000,
}: {
  port: number;
  dataDir: string;
  lambdaEndpoint: string;
  /** The other local services that task integrations call (Athena, SageMaker, SNS, EventBridge). */
  endpoints?: Readonly<Partial<Record<LocalServiceKey, string>>>;
  /** The longest wait between two polls of a `.sync` integration's job (it starts at 50 ms). */
  pollMillis?: number;
}): Promise<RunningSfn> => {
  const dir = join(dataDir, 'sfn');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'state.json');
  const saved = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { machines: StoredMachine[]; executions: StoredExecution[] })
    : { machines: [], executions: [] };
  const machines = new Map(saved.machines.map((m) => [m.arn, m]));
  const executions = new Map(saved.executions.map((e) => [e.arn, e]));
  let dirty = false;
  const save = () => {
    dirty = false;
    writeFileSync(
      `${file}.tmp`,
      JSON.stringify({ machines: [...machines.values()], executions: [...executions.values()] }),
    );
    renameSync(`${file}.tmp`, file);
  };
  // Unref'd: the servers keep a running cloud alive, and a start that fails (its port taken) must
  // not leave a timer behind that keeps the process from exiting.
  const saver = setInterval(() => dirty && save(), 250).unref();
  // The process ended without stopping its executions (a crash, kill -9): they are over too.
  for (const execution of executions.values()) {
    if (execution.status !== 'RUNNING') continue;
    Object.assign(execution, { status: 'FAILED', ...INTERRUPTED, stopDate: Date.now() });
  }
  /** Set while the local cloud stops: the executions it ends failed, rather than stopped by a user. */
  let closing = false;
  save();
  const lambda = new LambdaClient({
    endpoint: lambdaEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const clients = serviceClients(lambda, endpoints);
  const running = new Map<string, { abort: () => void; done: Promise<void> }>();
  const tokens = new Map<string, { resolve: (output: unknown) => void; reject: (error: Error) => void }>();

  const start = (machine: StoredMachine, execution: StoredExecution) => {
    const definition = JSON.parse(machine.definition) as Record<string, unknown>;
    const taskToken = Buffer.from(`${execution.arn}#${randomUUID()}`).toString('base64');
    const history = new ExecutionHistory(execution.history, () => {
      dirty = true;
    });
    const handlers: Record<string, (input: unknown) => Promise<never>> = {};
    for (const [name, task] of taskStates(definition)) {
      handlers[name] = (input: unknown) =>
        runTask(task.Resource, (input ?? {}) as Record<string, unknown>, clients, {
          pollMillis,
          taskToken,
          record: (type, details) => history.task(name, type, details, Date.now()),
          waitForToken: (token) =>
            new Promise((resolve, reject) => {
              tokens.set(token, { resolve, reject });
            }),
        }) as Promise<never>;
    }
    history.engine(
      'ExecutionStarted',
      { executionStartedEventDetails: { input: execution.input, roleArn: machine.roleArn } },
      Date.now(),
    );
    const engine = new StateMachine(definition as never, {
      validationOptions: { checkArn: false, checkPaths: false },
    });
    const run = engine.run(JSON.parse(execution.input), {
      overrides: { taskResourceLocalHandlers: handlers },
      context: {
        Execution: {
          Id: execution.arn,
          Name: execution.name,
          StartTime: new Date(execution.startDate).toISOString(),
          Input: JSON.parse(execution.input),
          RoleArn: machine.roleArn,
        },
        StateMachine: { Id: machine.arn, Name: machine.name },
        Task: { Token: taskToken },
      } as never,
    });
    const follow = (async () => {
      for await (const event of run.eventLogs) {
        if (event.type === 'StateEntered' || event.type === 'StateExited') {
          const entering = event.type === 'StateEntered';
          const kind = `${STATE_EVENT[event.state.type] ?? event.state.type}State${entering ? 'Entered' : 'Exited'}`;
          history.engine(
            kind,
            {
              [entering ? 'stateEnteredEventDetails' : 'stateExitedEventDetails']: {
                name: event.state.name,
                [entering ? 'input' : 'output']: JSON.stringify(
                  (entering ? event.state.input : event.state.output) ?? null,
                ),
              },
            },
            event.timestamp,
            { name: event.state.name, entering },
          );
        } else if (event.type.startsWith('MapIteration')) {
          // https://docs.aws.amazon.com/step-functions/latest/apireference/API_MapIterationEventDetails.html
          const { parentState, index } = event as { parentState: { name: string }; index: number };
          const key = `${event.type[0]?.toLowerCase()}${event.type.slice(1)}EventDetails`;
          history.engine(event.type, { [key]: { name: parentState.name, index } }, event.timestamp);
        }
      }
    })().catch(() => {});
    // The status turns final only once every state event is in the history, as in AWS: a client
    // that sees SUCCEEDED or FAILED and then reads the history finds the run's last state in it.
    const done = run.result.then(
      async (output) => {
        await follow;
        execution.status = 'SUCCEEDED';
        execution.output = JSON.stringify(output ?? null);
        history.engine(
          'ExecutionSucceeded',
          { executionSucceededEventDetails: { output: execution.output } },
          Date.now(),
        );
      },
      async (error: Error) => {
        await follow;
        Object.assign(execution, endingOf(error, closing));
        const aborted = execution.status === 'ABORTED';
        history.engine(
          aborted ? 'ExecutionAborted' : 'ExecutionFailed',
          {
            [aborted ? 'executionAbortedEventDetails' : 'executionFailedEventDetails']: {
              error: execution.error,
              cause: execution.cause,
            },
          },
          Date.now(),
        );
      },
    );
    const settled = done.then(() => {
      execution.stopDate = Date.now();
      running.delete(execution.arn);
      dirty = true;
    });
    // A task waiting for its token never settles on its own when the execution is stopped, and the
    // engine's task timeout timer (TimeoutSeconds, up to a year) would then keep the process alive.
    const abort = () => {
      run.abort();
      tokens.get(taskToken)?.reject(new TaskError('States.Aborted', 'the execution was stopped'));
      tokens.delete(taskToken);
    };
    running.set(execution.arn, { abort, done: settled });
  };

  const machineOf = (arn: unknown) => {
    const machine = machines.get(String(arn));
    if (!machine)
      throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  };
  const executionOf = (arn: unknown) => {
    const execution = executions.get(String(arn));
    if (!execution) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  };
  const answer = (token: unknown) => {
    const waiting = tokens.get(String(token));
    if (!waiting) throw new AwsServiceError('TaskDoesNotExist', 'Task Does Not Exist');
    tokens.delete(String(token));
    return waiting;
  };
  const parseDefinition = (text: unknown) => {
    try {
      const parsed = JSON.parse(String(text)) as Record<string, unknown>;
      if (!parsed.StartAt || !parsed.States) throw new Error('StartAt and States are required');
      return parsed;
    } catch (error) {
      throw new AwsServiceError(
        'InvalidDefinition',
        `Invalid State Machine Definition: ${(error as Error).message}`,
      );
    }
  };

  const service = await startJsonService(
    {
      key: 'SFN',
      protocol: 'awsJson1_0',
      operations: {
        CreateStateMachine: async (input) => {
          const name = String(input.name ?? '');
          if (!NAME.test(name)) throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
          parseDefinition(input.definition);
          const arn = machineArn(name);
          const existing = machines.get(arn);
          if (existing && existing.definition !== input.definition) {
            throw new AwsServiceError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
          }
          const machine = existing ?? {
            name,
            arn,
            definition: String(input.definition),
            roleArn: String(input.roleArn ?? ''),
            type: String(input.type ?? 'STANDARD'),
            createdAt: Date.now(),
          };
          machines.set(arn, machine);
          dirty = true;
          return { stateMachineArn: arn, creationDate: seconds(machine.createdAt) };
        },
        UpdateStateMachine: async (input) => {
          const machine = machineOf(input.stateMachineArn);
          if (input.definition !== undefined) {
            parseDefinition(input.definition);
            machine.definition = String(input.definition);
          }
          if (input.roleArn !== undefined) machine.roleArn = String(input.roleArn);
          dirty = true;
          return { updateDate: seconds(Date.now()) };
        },
        DescribeStateMachine: async (input) => {
          const m = machineOf(input.stateMachineArn);
          return {
            stateMachineArn: m.arn,
            name: m.name,
            status: 'ACTIVE',
            definition: m.definition,
            roleArn: m.roleArn,
            type: m.type,
            creationDate: seconds(m.createdAt),
          };
        },
        ListStateMachines: async () => ({
          stateMachines: [...machines.values()].map((m) => ({
            stateMachineArn: m.arn,
            name: m.name,
            type: m.type,
            creationDate: seconds(m.createdAt),
          })),
        }),
        DeleteStateMachine: async (input) => {
          machines.delete(String(input.stateMachineArn));
          dirty = true;
          return {};
        },
        StartExecution: async (input) => {
          const machine = machineOf(input.stateMachineArn);
          const name = input.name === undefined ? randomUUID() : String(input.name);
          if (!NAME.test(name)) throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
          const text = input.input === undefined ? '{}' : String(input.input);
          try {
            JSON.parse(text);
          } catch {
            throw new AwsServiceError('InvalidExecutionInput', 'Invalid execution input: not JSON');
          }
          const arn = `${machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
          const existing = executions.get(arn);
          if (existing) {
            // Idempotent for a running execution started with the same input, as in AWS (Standard).
            if (existing.status === 'RUNNING' && existing.input === text)
              return { executionArn: arn, startDate: seconds(existing.startDate) };
            throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
          }
          const execution: StoredExecution = {
            arn,
            name,
            stateMachineArn: machine.arn,
            input: text,
            status: 'RUNNING',
            startDate: Date.now(),
            history: [],
          };
          executions.set(arn, execution);
          start(machine, execution);
          save();
          return { executionArn: arn, startDate: seconds(execution.startDate) };
        },
        DescribeExecution: async (input) => {
          const e = executionOf(input.executionArn);
          return {
            executionArn: e.arn,
            stateMachineArn: e.stateMachineArn,
            name: e.name,
            status: e.status,
            startDate: seconds(e.startDate),
            ...(e.stopDate ? { stopDate: seconds(e.stopDate) } : {}),
            input: e.input,
            ...(e.output !== undefined ? { output: e.output } : {}),
            ...(e.error !== undefined ? { error: e.error, cause: e.cause } : {}),
          };
        },
        ListExecutions: async (input) => ({
          executions: [...executions.values()]
            .filter(
              (e) =>
                e.stateMachineArn === input.stateMachineArn &&
                (!input.statusFilter || e.status === input.statusFilter),
            )
            .sort((a, b) => b.startDate - a.startDate)
            .map((e) => ({
              executionArn: e.arn,
              stateMachineArn: e.stateMachineArn,
              name: e.name,
              status: e.status,
              startDate: seconds(e.startDate),
              ...(e.stopDate ? { stopDate: seconds(e.stopDate) } : {}),
            })),
        }),
        GetExecutionHistory: async (input) => {
          const e = executionOf(input.executionArn);
          const events = input.reverseOrder ? [...e.history].reverse() : e.history;
          const offset = Number(input.nextToken ?? 0);
          const max = Math.min(1000, Number(input.maxResults ?? 100) || 100);
          // Without execution data, events keep their shape but not the states' input and output.
          // https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
          const withData = input.includeExecutionData !== false;
          const page = events
            .slice(offset, offset + max)
            .map((ev) => ({ ...(withData ? ev : withoutData(ev)), timestamp: seconds(ev.timestamp) }));
          return {
            events: page,
            ...(offset + max < events.length ? { nextToken: String(offset + max) } : {}),
          };
        },
        StopExecution: async (input) => {
          const e = executionOf(input.executionArn);
          running.get(e.arn)?.abort();
          await running.get(e.arn)?.done;
          return { stopDate: seconds(e.stopDate ?? Date.now()) };
        },
        SendTaskSuccess: async (input) => {
          let output: unknown;
          try {
            output = JSON.parse(String(input.output ?? 'null'));
          } catch {
            throw new AwsServiceError('InvalidOutput', 'Invalid output: not JSON');
          }
          answer(input.taskToken).resolve(output);
          return {};
        },
        SendTaskFailure: async (input) => {
          answer(input.taskToken).reject(
            new TaskError(String(input.error ?? 'States.TaskFailed'), String(input.cause ?? '')),
          );
          return {};
        },
        SendTaskHeartbeat: async (input) => {
          if (!tokens.has(String(input.taskToken)))
            throw new AwsServiceError('TaskDoesNotExist', 'Task Does Not Exist');
          return {};
        },
      },
    },
    port,
    async () => {
      closing = true;
      for (const r of running.values()) r.abort();
      await Promise.allSettled([...running.values()].map((r) => r.done));
      clearInterval(saver);
      save();
      destroyClients(clients);
    },
  );
  return {
    ...service,
    port: Number(new URL(service.url).port),
    idle: async () => {
      while (running.size > 0) await Promise.allSettled([...running.values()].map((r) => r.done));
    },
  };
};
