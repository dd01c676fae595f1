import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  GetFunctionCommand,
  GetFunctionUrlConfigCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionUrlConfigsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { type LogLine, type RunningLambda, startLambda } from '../../../local/lambda';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/types';

const root = join(__dirname, '../../..');
const logs: LogLine[] = [];
let lambda: RunningLambda;
let client: LambdaClient;

const probe = (functionName: string, timeoutSeconds: number, concurrency: number) => ({
  functionName,
  handler: 'test/events/local/functions/probe.handler',
  root,
  environment: { MLPIPE_STAGE: 'local' },
  timeoutSeconds,
  memorySize: 256,
  concurrency,
});

const invoke = async (name: string, event: unknown) => {
  const out = await client.send(
    new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }),
  );
  return {
    error: out.FunctionError,
    payload: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>,
  };
};

beforeAll(async () => {
  lambda = await startLambda({ port: 0, onLog: (line) => logs.push(line) });
  lambda.register(probe('mlpipe-local-probe', 10, 4));
  lambda.register(probe('mlpipe-local-narrow', 10, 2));
  lambda.register(probe('mlpipe-local-hasty', 1, 1));
  client = new LambdaClient({ endpoint: lambda.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});
afterAll(async () => {
  client.destroy();
  await lambda.stop();
});

describe('the local Lambda', () => {
  it('runs the handler with a real context and the function environment', async () => {
    const { error, payload } = await invoke('mlpipe-local-probe', {});
    expect(error).toBeUndefined();
    expect(payload).toMatchObject({ functionName: 'mlpipe-local-probe', stage: 'local' });
    expect(payload.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.remainingMs).toBeGreaterThan(9000);
    expect(logs.some((l) => l.line.includes('"probed"') && l.requestId === payload.requestId)).toBe(true);
  });

  it('initialises the module once per warm instance and reuses it', async () => {
    const first = await invoke('arn:aws:lambda:us-east-1:000000000000:function:mlpipe-local-probe', {});
    const second = await invoke('mlpipe-local-probe', {});
    expect(second.payload.pid).toBe(first.payload.pid);
    expect(second.payload.initialisedAt).toBe(first.payload.initialisedAt);
    expect(second.payload.invocations).toBe((first.payload.invocations as number) + 1);
  });

  it('starts a new instance when all are busy, up to the concurrency limit', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => invoke('mlpipe-local-narrow', { sleepMs: 300 })),
    );
    expect(new Set(results.map((r) => r.payload.pid)).size).toBe(2);
    expect(lambda.pool('mlpipe-local-narrow')?.coldStarts).toBe(2);
  });

  it('gives each instance a /tmp of its own, not the host temp folder', async () => {
    const results = await Promise.all([1, 2].map(() => invoke('mlpipe-local-narrow', { sleepMs: 300 })));
    const tmps = results.map((r) => String(r.payload.tmp));
    expect(new Set(results.map((r) => r.payload.pid)).size).toBe(2);
    expect(new Set(tmps).size).toBe(2);
    for (const tmp of tmps) {
      expect(basename(tmp)).toMatch(/^mlpipe-lambda-mlpipe-local-narrow-/);
      expect(dirname(tmp)).toBe(tmpdir());
    }
  });

  it('ends an invocation at the function timeout, as Task timed out', async () => {
    const { error, payload } = await invoke('mlpipe-local-hasty', { sleepMs: 3000 });
    expect(error).toBe('Unhandled');
    expect(payload).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Task timed out after 1.00 seconds',
    });
    const after = await invoke('mlpipe-local-hasty', {});
    expect(after.error).toBeUndefined();
  });

  it('reports a thrown error as a function error with its type and message', async () => {
    const { error, payload } = await invoke('mlpipe-local-probe', { fail: 'bad record' });
    expect(error).toBe('Unhandled');
    expect(payload).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad record' });
  });

  it('retries a failing asynchronous invocation twice under the request id it answered with', async () => {
    const out = await client.send(
      new InvokeCommand({
        FunctionName: 'mlpipe-local-probe',
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify({ fail: 'not yet', tag: 'retried' })),
      }),
    );
    expect(out.StatusCode).toBe(202);
    const attempts = () => logs.filter((l) => l.line.includes('"retried"'));
    for (let waited = 0; attempts().length < 3 && waited < 20_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(attempts().map((l) => l.requestId)).toEqual([1, 2, 3].map(() => out.$metadata.requestId));
  });

  it('gives an event source the same retries: three attempts under one request id, and the last result', async () => {
    const { result, attempts } = await lambda.invokeAsync('mlpipe-local-probe', {
      fail: 'still not',
      tag: 'from-a-source',
    });
    expect(attempts).toBe(3);
    expect(result).toMatchObject({ ok: false, error: { errorType: 'TypeError', errorMessage: 'still not' } });
    // Log lines come on the instance's stdout, apart from its answers: wait for the third.
    const lines = () => logs.filter((l) => l.line.includes('"from-a-source"'));
    for (let waited = 0; lines().length < 3 && waited < 5_000; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const ids = lines().map((l) => l.requestId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect((await lambda.invokeAsync('mlpipe-local-probe', {})).attempts).toBe(1);
  });

  it('fails an invocation whose handler ends its process, and starts afresh', async () => {
    const { error, payload } = await invoke('mlpipe-local-probe', { exit: true });
    expect(error).toBe('Unhandled');
    expect(payload).toMatchObject({ errorType: 'Runtime.ExitError' });
    expect(String(payload.errorMessage)).toContain('exit status 3');
    expect((await invoke('mlpipe-local-probe', {})).error).toBeUndefined();
  });

  it('answers GetFunction, and ResourceNotFoundException for a function that does not exist', async () => {
    const got = await client.send(new GetFunctionCommand({ FunctionName: 'mlpipe-local-probe' }));
    expect(got.Configuration?.FunctionArn).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:mlpipe-local-probe',
    );
    expect(got.Configuration).toMatchObject({ PackageType: 'Zip', Runtime: 'nodejs22.x' });
    // An image function reports its command, and no runtime of its own.
    lambda.register({ ...probe('mlpipe-local-image', 10, 1), packageType: 'Image' });
    const image = await client.send(new GetFunctionCommand({ FunctionName: 'mlpipe-local-image' }));
    expect(image.Configuration).toMatchObject({
      PackageType: 'Image',
      ImageConfigResponse: { ImageConfig: { Command: [probe('mlpipe-local-image', 10, 1).handler] } },
    });
    expect(image.Configuration?.Runtime).toBeUndefined();
    await expect(client.send(new InvokeCommand({ FunctionName: 'nope' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('tells a function URL through GetFunctionUrlConfig and ListFunctionUrlConfigs, as a script finds it in AWS', async () => {
    lambda.register(probe('mlpipe-local-web', 10, 1));
    const given = lambda.registerUrl({ functionName: 'mlpipe-local-web', authType: 'AWS_IAM' });
    const config = await client.send(new GetFunctionUrlConfigCommand({ FunctionName: 'mlpipe-local-web' }));
    expect(config).toMatchObject({
      FunctionUrl: given,
      FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:mlpipe-local-web',
      AuthType: 'AWS_IAM',
      InvokeMode: 'BUFFERED',
    });
    expect(Date.parse(config.CreationTime ?? '')).not.toBeNaN();
    // The URL it gives answers: unsigned, refused as AWS_IAM auth refuses it.
    expect((await fetch(config.FunctionUrl ?? '', { method: 'POST', body: '{}' })).status).toBe(403);
    const listed = await client.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'mlpipe-local-web' }));
    expect(listed.FunctionUrlConfigs?.map((c) => c.FunctionUrl)).toEqual([given]);
    // A function without a URL has none to list, and asking for it is ResourceNotFoundException.
    const none = await client.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'mlpipe-local-probe' }));
    expect(none.FunctionUrlConfigs).toEqual([]);
    await expect(
      client.send(new GetFunctionUrlConfigCommand({ FunctionName: 'mlpipe-local-probe' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});
