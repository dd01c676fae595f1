import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type RunningKinesis, startKinesis } from '../../../local/kinesis';
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

const readAll = async (client: KinesisClient, stream: string): Promise<string[]> => {
  const shards = await client.send(new ListShardsCommand({ StreamName: stream }));
  const out: string[] = [];
  for (const shard of shards.Shards ?? []) {
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const records = await client.send(new GetRecordsCommand({ ShardIterator }));
    out.push(...(records.Records ?? []).map((r) => Buffer.from(r.Data ?? new Uint8Array()).toString()));
  }
  return out;
};

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
});
