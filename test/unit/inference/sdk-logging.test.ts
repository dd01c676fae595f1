import { Readable } from 'node:stream';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { withoutSdkLogging } from '../../../functions/shared/sdk';

/** A client whose requests are answered at once, with a logger that records what it is handed. */
const client = () => {
  const logged: unknown[] = [];
  const log = (entry: unknown) => logged.push(entry);
  const kinesis = new KinesisClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    endpoint: 'http://127.0.0.1:9',
    logger: { debug: () => {}, info: log, warn: log, error: log },
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.1' },
          body: Readable.from([
            Buffer.from(
              JSON.stringify({
                FailedRecordCount: 0,
                Records: [{ SequenceNumber: '1', ShardId: 'shardId-0' }],
              }),
            ),
          ]),
        },
      }),
    } as never,
  });
  return { kinesis, logged };
};

const put = new PutRecordsCommand({
  StreamName: 'predictions',
  Records: [{ Data: Buffer.from('{"id":"r1"}'), PartitionKey: 'r1' }],
});

describe('withoutSdkLogging', () => {
  it('stops the SDK copying each request and response for its logger', async () => {
    const plain = client();
    await plain.kinesis.send(put);
    expect(plain.logged).toHaveLength(1);

    const quiet = client();
    withoutSdkLogging(quiet.kinesis);
    await quiet.kinesis.send(put);
    expect(quiet.logged).toHaveLength(0);
  });

  it('leaves the answer as it was', async () => {
    const { kinesis } = client();
    const answer = await withoutSdkLogging(kinesis).send(put);
    expect(answer.FailedRecordCount).toBe(0);
    expect(answer.Records?.[0]?.SequenceNumber).toBe('1');
  });
});
