import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type RunningKinesis, readStream, startKinesis } from '../../../local/kinesis';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/types';

const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-kinesis-'));
let kinesis: RunningKinesis;
const clientFor = (url: string) =>
  new KinesisClient({
    endpoint: url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler(),
  });

beforeAll(async () => {
  kinesis = await startKinesis({ port: 0, dataDir });
});
afterAll(async () => {
  await kinesis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const readAll = async (client: KinesisClient, stream: string): Promise<string[]> =>
  (await readStream(client, stream)).map((d) => Buffer.from(d).toString());

describe('the local Kinesis', () => {
  it('takes records through the real SDK and keeps them, in order, across a restart', async () => {
    let client = clientFor(kinesis.url);
    await client.send(new CreateStreamCommand({ StreamName: 'mlpipe-local-events', ShardCount: 1 }));
    const records = Array.from({ length: 20 }, (_, i) => ({
      Data: Buffer.from(`{"id":"${i}"}`),
      PartitionKey: String(i),
    }));
    const put = await client.send(
      new PutRecordsCommand({ StreamName: 'mlpipe-local-events', Records: records }),
    );
    expect(put.FailedRecordCount).toBe(0);
    client.destroy();
    await kinesis.stop();
    kinesis = await startKinesis({ port: 0, dataDir });
    client = clientFor(kinesis.url);
    expect(await readAll(client, 'mlpipe-local-events')).toEqual(records.map((r) => r.Data.toString()));
    client.destroy();
  });

  it("answers the SDK's default client over HTTP/2 as well as HTTP/1.1 on the same port", async () => {
    const http2 = new KinesisClient({
      endpoint: kinesis.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const http1 = clientFor(kinesis.url);
    await http2.send(new CreateStreamCommand({ StreamName: 'mlpipe-local-h2', ShardCount: 1 }));
    // Large enough to span many HTTP/2 frames.
    const records = Array.from({ length: 300 }, (_, i) => ({
      Data: Buffer.from('x'.repeat(1000) + i),
      PartitionKey: String(i),
    }));
    const put = await http2.send(new PutRecordsCommand({ StreamName: 'mlpipe-local-h2', Records: records }));
    expect(put.FailedRecordCount).toBe(0);
    expect(await readAll(http1, 'mlpipe-local-h2')).toEqual(records.map((r) => r.Data.toString()));
    expect(await readAll(http2, 'mlpipe-local-h2')).toHaveLength(records.length);
    http2.destroy();
    http1.destroy();
  });
});
