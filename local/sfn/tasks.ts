import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/**
 * Task state resources, run against the other local services through their real SDK clients:
 * the Step Functions service integrations mlpipe uses, and plain Lambda ARNs.
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html
 */
export interface TaskContext {
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

export const runTask = async (
  resource: string,
  input: Record<string, unknown>,
  clients: { lambda: LambdaClient },
  context: TaskContext,
): Promise<unknown> => {
  const [kind, service] = resource.startsWith('arn:aws:lambda:')
    ? ['function', 'lambda']
    : ([resource.replace(/^arn:aws:states:::/, ''), resource.split(':')[5] ?? ''] as const);
  context.record('TaskScheduled', {
    taskScheduledEventDetails: {
      resourceType: service,
      resource: kind,
      region: 'us-east-1',
      parameters: JSON.stringify(input),
    },
  });
  context.record('TaskStarted', { taskStartedEventDetails: { resourceType: service, resource: kind } });
  const succeeded = (output: unknown) => {
    context.record('TaskSucceeded', {
      taskSucceededEventDetails: {
        resourceType: service,
        resource: kind,
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
          taskSubmittedEventDetails: { resourceType: service, resource: kind, output: '{}' },
        });
        return succeeded(await context.waitForToken(context.taskToken));
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
      taskFailedEventDetails: { resourceType: service, resource: kind, error: e.name, cause: e.message },
    });
    throw e;
  }
};
