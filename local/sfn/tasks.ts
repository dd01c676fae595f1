import {
  AthenaClient,
  GetQueryExecutionCommand,
  StartQueryExecutionCommand,
  type StartQueryExecutionCommandInput,
} from '@aws-sdk/client-athena';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateTrainingJobCommand,
  type CreateTrainingJobCommandInput,
  DescribeTrainingJobCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { type LocalServiceKey, localClientConfig } from '../types';

/**
 * Task state resources, run against the other local services through their real SDK clients:
 * the Step Functions service integrations mlpipe uses, and plain Lambda ARNs.
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html
 */
export interface TaskClients {
  readonly lambda: LambdaClient;
  readonly athena?: AthenaClient;
  readonly sagemaker?: SageMakerClient;
}

export const serviceClients = (
  lambda: LambdaClient,
  endpoints: Readonly<Partial<Record<LocalServiceKey, string>>>,
): TaskClients => {
  return {
    lambda,
    ...(endpoints.ATHENA ? { athena: new AthenaClient(localClientConfig(endpoints.ATHENA)) } : {}),
    ...(endpoints.SAGEMAKER
      ? { sagemaker: new SageMakerClient(localClientConfig(endpoints.SAGEMAKER)) }
      : {}),
  };
};

export const destroyClients = (clients: TaskClients): void => {
  clients.lambda.destroy();
  clients.athena?.destroy();
  clients.sagemaker?.destroy();
};

export interface TaskContext {
  /** How often a `.sync` task polls its job. */
  readonly pollMillis: number;
  /** Records an AWS history event of the running task. */
  readonly record: (type: string, details: Record<string, unknown>) => void;
  /** For `.waitForTaskToken`: resolves with SendTaskSuccess's output, rejects with SendTaskFailure's error. */
  readonly waitForToken: (token: string) => Promise<unknown>;
  readonly taskToken: string;
}

export class TaskError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/** Every Task state of a definition (Map and Parallel branches included), by name. */
export const taskStates = (definition: Record<string, unknown>): Map<string, { Resource: string }> => {
  const found = new Map<string, { Resource: string }>();
  const visit = (states: Record<string, Record<string, unknown>> | undefined) => {
    for (const [name, state] of Object.entries(states ?? {})) {
      if (state.Type === 'Task') found.set(name, { Resource: String(state.Resource) });
      const processor = (state.ItemProcessor ?? state.Iterator) as
        | { States?: Record<string, Record<string, unknown>> }
        | undefined;
      visit(processor?.States);
      for (const branch of (state.Branches ?? []) as { States?: Record<string, Record<string, unknown>> }[])
        visit(branch.States);
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return found;
};

const invokeLambda = async (lambda: LambdaClient, functionName: string, payload: unknown) => {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload ?? {})) }),
  );
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  const body = text ? (JSON.parse(text) as unknown) : null;
  if (out.FunctionError) {
    const error = body as { errorType?: string; errorMessage?: string };
    // The function's own error type is the ASL error name, and its JSON the cause, as in AWS.
    throw new TaskError(error?.errorType ?? 'Lambda.Unknown', JSON.stringify(body));
  }
  return { body, statusCode: out.StatusCode ?? 200, version: out.ExecutedVersion ?? '$LATEST' };
};

const need = <T>(client: T | undefined, resource: string): T => {
  if (!client) throw new TaskError('States.TaskFailed', `no local endpoint for ${resource}`);
  return client;
};

/**
 * Errors of an AWS API called by an optimized integration reach Retry/Catch as `<Service>.<Error>`;
 * SageMaker's all as `SageMaker.AmazonSageMakerException`.
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html
 */
const serviceError = (service: string, error: unknown): TaskError => {
  if (error instanceof TaskError) return error;
  const e = error as Error & { $metadata?: unknown };
  if (!e.$metadata) return new TaskError(e.name ?? 'States.TaskFailed', e.message);
  const name = service === 'sagemaker' ? 'SageMaker.AmazonSageMakerException' : `Athena.${e.name}`;
  return new TaskError(name, JSON.stringify({ message: e.message, errorType: e.name }));
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const FIRST_POLL_MS = 50;

/**
 * `.sync` (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-sync):
 * polls a job until it ends, first after 50 ms, then twice as long each time up to `every`. A local
 * Athena query or a small training job ends in well under a second, and a flat one-second poll made
 * every `.sync` state of the demo last at least a second.
 */
export const untilDone = async <T>(
  poll: () => Promise<T>,
  done: (t: T) => boolean,
  every: number,
  pause: (ms: number) => Promise<unknown> = sleep,
): Promise<T> => {
  for (let wait = Math.min(FIRST_POLL_MS, every); ; wait = Math.min(wait * 2, every)) {
    const state = await poll();
    if (done(state)) return state;
    await pause(wait);
  }
};

const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

export const runTask = async (
  resource: string,
  input: Record<string, unknown>,
  clients: TaskClients,
  context: TaskContext,
): Promise<unknown> => {
  const [kind, service] = resource.startsWith('arn:aws:lambda:')
    ? ['function', 'lambda']
    : ([resource.replace(/^arn:aws:states:::/, ''), resource.split(':')[5] ?? ''] as const);
  // The history names the service and its action apart, as AWS does: "lambda" and "invoke".
  const action = kind.startsWith(`${service}:`) ? kind.slice(service.length + 1) : kind;
  context.record('TaskScheduled', {
    taskScheduledEventDetails: {
      resourceType: service,
      resource: action,
      region: 'us-east-1',
      parameters: JSON.stringify(input),
    },
  });
  context.record('TaskStarted', { taskStartedEventDetails: { resourceType: service, resource: action } });
  const succeeded = (output: unknown) => {
    context.record('TaskSucceeded', {
      taskSucceededEventDetails: {
        resourceType: service,
        resource: action,
        output: JSON.stringify(output ?? null),
      },
    });
    return output;
  };
  try {
    if (resource.startsWith('arn:aws:lambda:')) {
      const { body } = await invokeLambda(clients.lambda, resource, input);
      return succeeded(body);
    }
    switch (kind) {
      case 'lambda:invoke': {
        const { body, statusCode, version } = await invokeLambda(
          clients.lambda,
          String(input.FunctionName),
          input.Payload,
        );
        return succeeded({ ExecutedVersion: version, Payload: body, StatusCode: statusCode });
      }
      case 'lambda:invoke.waitForTaskToken': {
        await invokeLambda(clients.lambda, String(input.FunctionName), input.Payload);
        context.record('TaskSubmitted', {
          taskSubmittedEventDetails: { resourceType: service, resource: action, output: '{}' },
        });
        return succeeded(await context.waitForToken(context.taskToken));
      }
      case 'athena:startQueryExecution':
      case 'athena:startQueryExecution.sync': {
        const athena = need(clients.athena, resource);
        const started = await athena
          .send(new StartQueryExecutionCommand(input as unknown as StartQueryExecutionCommandInput))
          .catch((error) => {
            throw serviceError('athena', error);
          });
        if (kind === 'athena:startQueryExecution')
          return succeeded({ QueryExecutionId: started.QueryExecutionId });
        const done = await untilDone(
          () => athena.send(new GetQueryExecutionCommand({ QueryExecutionId: started.QueryExecutionId })),
          (q) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(q.QueryExecution?.Status?.State ?? ''),
          context.pollMillis,
        );
        const output = json({ QueryExecution: done.QueryExecution });
        if (done.QueryExecution?.Status?.State !== 'SUCCEEDED')
          throw new TaskError('States.TaskFailed', JSON.stringify(output.QueryExecution));
        return succeeded(output);
      }
      case 'sagemaker:createTrainingJob':
      case 'sagemaker:createTrainingJob.sync': {
        const sagemaker = need(clients.sagemaker, resource);
        const { Tags: _tags, ...request } = input;
        const name = String(input.TrainingJobName);
        const created = await sagemaker
          .send(new CreateTrainingJobCommand(request as unknown as CreateTrainingJobCommandInput))
          .catch((error) => {
            throw serviceError('sagemaker', error);
          });
        if (kind === 'sagemaker:createTrainingJob')
          return succeeded({ TrainingJobArn: created.TrainingJobArn });
        const done = await untilDone(
          () => sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: name })),
          (j) => ['Completed', 'Failed', 'Stopped'].includes(j.TrainingJobStatus ?? ''),
          context.pollMillis,
        );
        const { $metadata: _m, ...description } = done;
        const output = json(description);
        if (done.TrainingJobStatus !== 'Completed')
          throw new TaskError('States.TaskFailed', JSON.stringify(output));
        return succeeded(output);
      }
      default:
        throw new TaskError('States.TaskFailed', `the local cloud does not run ${resource} yet`);
    }
  } catch (error) {
    const e =
      error instanceof TaskError
        ? error
        : new TaskError((error as Error).name ?? 'States.TaskFailed', (error as Error).message);
    context.record('TaskFailed', {
      taskFailedEventDetails: { resourceType: service, resource: action, error: e.name, cause: e.message },
    });
    throw e;
  }
};
