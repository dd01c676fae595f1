import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import type { CfnTemplate } from '../../../local/resources/intrinsics';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/types';

const template: CfnTemplate = {
  Resources: {
    RawBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'mlpipe-local-raw' } },
    EventsStream: {
      Type: 'AWS::Kinesis::Stream',
      Properties: { Name: 'mlpipe-local-events', ShardCount: 1 },
    },
    FailuresQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'mlpipe-local-failures' } },
    StreamLambdaFunction: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: 'mlpipe-local-stream',
        Handler: 'test/events/local/functions/stream.handler',
        Timeout: 30,
        MemorySize: 256,
      },
    },
    StreamMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        FunctionName: { 'Fn::GetAtt': ['StreamLambdaFunction', 'Arn'] },
        EventSourceArn: { 'Fn::GetAtt': ['EventsStream', 'Arn'] },
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: 1,
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FailuresQueue', 'Arn'] } } },
      },
    },
  },
};

const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-esm-'));
let cloud: LocalCloud;
beforeAll(async () => {
  cloud = await startLocalCloud({ dataDir, port: 0, template });
});
afterAll(async () => {
  await cloud.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const eventually = async <T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
};

describe('a Kinesis event source mapping from the template', () => {
  it('processes every good record in order, isolates a poison record by bisecting, and sends failures to the destination', async () => {
    const kinesis = new KinesisClient({
      endpoint: cloud.kinesis.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      requestHandler: new NodeHttpHandler(),
    });
    const s3 = new S3Client({
      endpoint: cloud.s3.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
    });
    const sqs = new SQSClient({
      endpoint: cloud.sqs.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const records = Array.from({ length: 20 }, (_, i) => ({
      id: `r${String(i).padStart(2, '0')}`,
      action: i === 7 ? 'throw' : i === 13 ? 'partial' : 'ok',
    }));
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName: 'mlpipe-local-events',
        Records: records.map((r) => ({ Data: Buffer.from(JSON.stringify(r)), PartitionKey: 'one-shard' })),
      }),
    );
    const sequence = (i: number) => put.Records?.[i]?.SequenceNumber;
    const processed = await eventually(
      async () =>
        (
          (await s3.send(new ListObjectsV2Command({ Bucket: 'mlpipe-local-raw', Prefix: 'processed/' })))
            .Contents ?? []
        ).map((o) => o.Key),
      (keys) => keys.length >= 18,
    );
    expect(processed.sort()).toEqual(
      records.filter((r) => r.action === 'ok').map((r) => `processed/${r.id}`),
    );
    const queueUrl = cloud.sqs.queueUrl('mlpipe-local-failures');
    const failures: { condition: string; start: string; end: string; size: number }[] = [];
    await eventually(
      async () => {
        const got = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
        );
        for (const m of got.Messages ?? []) {
          const body = JSON.parse(m.Body ?? '{}') as {
            requestContext: { condition: string };
            KinesisBatchInfo: { startSequenceNumber: string; endSequenceNumber: string; batchSize: number };
          };
          if (!failures.some((f) => f.start === body.KinesisBatchInfo.startSequenceNumber)) {
            failures.push({
              condition: body.requestContext.condition,
              start: body.KinesisBatchInfo.startSequenceNumber,
              end: body.KinesisBatchInfo.endSequenceNumber,
              size: body.KinesisBatchInfo.batchSize,
            });
          }
        }
        return failures;
      },
      (f) => f.length >= 2,
    );
    expect(failures.sort((a, b) => a.start.localeCompare(b.start))).toEqual([
      { condition: 'RetryAttemptsExhausted', start: sequence(7), end: sequence(7), size: 1 },
      { condition: 'RetryAttemptsExhausted', start: sequence(13), end: sequence(13), size: 1 },
    ]);
    kinesis.destroy();
    s3.destroy();
    sqs.destroy();
  });
});
