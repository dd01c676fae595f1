import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { startKinesis } from '../../../local/kinesis';
import { startLambda } from '../../../local/lambda';
import { PortInUseError } from '../../../local/protocol/errors';
import { startS3 } from '../../../local/s3';
import { type RunningSfn, startSfn } from '../../../local/sfn';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/types';

/** A raw request to a JSON-protocol endpoint, as a client that is not the SDK would send it. */
const post = async (url: string, target: string, body: string) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target },
    body,
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: (await res.json()) as { __type: string; message: string } };
};

describe('the local cloud given bad input', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-bad-input-'));
  let sfn: RunningSfn;
  let holder: Server;
  let heldPort = 0;
  beforeAll(async () => {
    sfn = await startSfn({ port: 0, dataDir, lambdaEndpoint: 'http://127.0.0.1:9' });
    holder = createServer();
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
    heldPort = (holder.address() as { port: number }).port;
  });
  afterAll(async () => {
    await sfn.stop();
    await new Promise((done) => holder.close(done));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers an unknown operation with UnknownOperationException, HTTP 400, naming it', async () => {
    const answer = await post(sfn.url, 'AWSStepFunctions.DescribeActivityPlan', '{}');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      __type: 'UnknownOperationException',
      message: expect.stringContaining('DescribeActivityPlan'),
    });
  });

  it('answers a body that is not JSON with a 400 that says why', async () => {
    const answer = await post(sfn.url, 'AWSStepFunctions.ListStateMachines', '{"maxResults": ');
    expect(answer.status).toBe(400);
    expect(answer.body.__type).toBe('SerializationException');
    expect(answer.body.message).toMatch(/^request body is not valid JSON: /);
  });

  it('gives the SDK the error AWS would, by name, for a machine that does not exist', async () => {
    const client = new SFNClient({ endpoint: sfn.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await expect(
      client.send(
        new StartExecutionCommand({
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:nope',
          input: '{}',
        }),
      ),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    client.destroy();
  });

  it('names the port when another process holds it, for its own endpoints, S3 and Kinesis', async () => {
    const sfnOnHeldPort = startSfn({ port: heldPort, dataDir, lambdaEndpoint: 'http://127.0.0.1:9' });
    await expect(sfnOnHeldPort).rejects.toBeInstanceOf(PortInUseError);
    await expect(sfnOnHeldPort).rejects.toThrow(
      `port ${heldPort} on 127.0.0.1 is already in use; stop what holds it or pass another --port`,
    );
    await expect(startLambda({ port: heldPort })).rejects.toThrow(
      `port ${heldPort} on 127.0.0.1 is already in use`,
    );
    await expect(startS3({ port: heldPort, dataDir })).rejects.toBeInstanceOf(PortInUseError);
    await expect(startKinesis({ port: heldPort, dataDir })).rejects.toBeInstanceOf(PortInUseError);
  });
});
