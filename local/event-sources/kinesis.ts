import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { RunningLambda } from '../lambda';
import type { PlannedStreamMapping } from '../resources/plan';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types';

/**
 * Kinesis event source mappings as Lambda runs them: one poller per shard, records in order, batches
 * of up to BatchSize gathered for up to the batching window; on a function error the batch is split
 * in two (bisect) down to single records, and a record that still fails after MaximumRetryAttempts
 * (or grows older than MaximumRecordAgeInSeconds) is skipped with its batch's metadata sent to the
 * on-failure destination. With ReportBatchItemFailures, processing resumes from the first failed
 * record. Checkpoints are written to the data folder, so a restart resumes where it stopped.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
 */
export interface StreamPollers {
  /** Resolves when every shard has caught up with the records written so far and is idle. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface StreamMappingOptions {
  readonly mapping: PlannedStreamMapping;
  readonly kinesis: KinesisClient;
  readonly sqs?: SQSClient;
  readonly sqsQueueUrl?: (arn: string) => string;
  readonly lambda: RunningLambda;
  readonly dataDir: string;
  readonly pollMs?: number;
}

type Batch = KinesisRecord[];

const streamArn = (name: string) => `arn:aws:kinesis:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stream/${name}`;

/**
 * One record of a Kinesis event as Lambda delivers it to a function: the stream's record with its
 * data in base64. https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
 */
export const lambdaKinesisRecord = (
  record: {
    readonly data: Uint8Array | string;
    readonly partitionKey: string;
    readonly sequenceNumber: string;
    readonly arrival?: Date | undefined;
  },
  streamName: string,
  shardId = 'shardId-000000000000',
): KinesisStreamRecord => ({
  kinesis: {
    kinesisSchemaVersion: '1.0',
    partitionKey: record.partitionKey,
    sequenceNumber: record.sequenceNumber,
    data: Buffer.from(record.data).toString('base64'),
    approximateArrivalTimestamp: (record.arrival?.getTime() ?? Date.now()) / 1000,
  },
  eventSource: 'aws:kinesis',
  eventVersion: '1.0',
  eventID: `${shardId}:${record.sequenceNumber}`,
  eventName: 'aws:kinesis:record',
  invokeIdentityArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local`,
  awsRegion: LOCAL_REGION,
  eventSourceARN: streamArn(streamName),
});

const toEvent = (records: Batch, shardId: string, mapping: PlannedStreamMapping): KinesisStreamEvent => ({
  Records: records.map((r) =>
    lambdaKinesisRecord(
      {
        data: r.Data ?? new Uint8Array(),
        partitionKey: r.PartitionKey ?? '',
        sequenceNumber: r.SequenceNumber ?? '',
        arrival: r.ApproximateArrivalTimestamp,
      },
      mapping.streamName,
      shardId,
    ),
  ),
});

export const startStreamMapping = async (options: StreamMappingOptions): Promise<StreamPollers> => {
  const { mapping, kinesis, lambda } = options;
  const pollMs = options.pollMs ?? 200;
  const dir = join(options.dataDir, 'event-sources');
  mkdirSync(dir, { recursive: true });
  const checkpointFile = join(dir, `${mapping.functionName}--${mapping.streamName}.json`);
  const checkpoints: Record<string, string> = existsSync(checkpointFile)
    ? (JSON.parse(readFileSync(checkpointFile, 'utf8')) as Record<string, string>)
    : {};
  const checkpoint = (shardId: string, sequence: string | undefined) => {
    if (!sequence) return;
    checkpoints[shardId] = sequence;
    writeFileSync(`${checkpointFile}.tmp`, JSON.stringify(checkpoints));
    renameSync(`${checkpointFile}.tmp`, checkpointFile);
  };
  const functionArn = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${mapping.functionName}`;
  let running = true;
  const busy = new Map<string, boolean>();

  const sendToDestination = async (shardId: string, batch: Batch, condition: string, attempts: number) => {
    if (!mapping.onFailureQueueArn || !options.sqs || !options.sqsQueueUrl || batch.length === 0) return;
    const first = batch[0] as KinesisRecord;
    const last = batch[batch.length - 1] as KinesisRecord;
    // The on-failure record carries where the batch is, not its data, as AWS's does.
    const body = {
      requestContext: { requestId: randomUUID(), functionArn, condition, approximateInvokeCount: attempts },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber,
        endSequenceNumber: last.SequenceNumber,
        approximateArrivalOfFirstRecord: first.ApproximateArrivalTimestamp?.toISOString(),
        approximateArrivalOfLastRecord: last.ApproximateArrivalTimestamp?.toISOString(),
        batchSize: batch.length,
        streamArn: streamArn(mapping.streamName),
      },
    };
    await options.sqs.send(
      new SendMessageCommand({
        QueueUrl: options.sqsQueueUrl(mapping.onFailureQueueArn),
        MessageBody: JSON.stringify(body),
      }),
    );
  };

  const tooOld = (r: KinesisRecord) =>
    mapping.maximumRecordAgeSeconds >= 0 &&
    Date.now() - (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) >
      mapping.maximumRecordAgeSeconds * 1000;

  /** Delivers a batch until it succeeds or is given up; returns when its records are settled. */
  const deliver = async (shardId: string, batch: Batch, attempts = 0): Promise<void> => {
    if (batch.length === 0 || !running) return;
    const expired = batch.filter(tooOld);
    if (expired.length > 0) {
      await sendToDestination(shardId, expired, 'RecordAgeExceeded', attempts);
      checkpoint(shardId, expired[expired.length - 1]?.SequenceNumber);
      return deliver(
        shardId,
        batch.filter((r) => !tooOld(r)),
        attempts,
      );
    }
    const result = await lambda.invoke(mapping.functionName, toEvent(batch, shardId, mapping));
    let failedFrom = -1;
    if (result.ok) {
      const failures = mapping.reportBatchItemFailures
        ? ((result.payload as { batchItemFailures?: { itemIdentifier?: string }[] } | null)
            ?.batchItemFailures ?? [])
        : [];
      if (failures.length === 0) {
        checkpoint(shardId, batch[batch.length - 1]?.SequenceNumber);
        return;
      }
      const failed = new Set(failures.map((f) => f.itemIdentifier));
      failedFrom = batch.findIndex((r) => failed.has(r.SequenceNumber));
      // An identifier that names no record of the batch fails the whole batch, as in AWS.
      if (failedFrom < 0) failedFrom = 0;
      checkpoint(shardId, batch[failedFrom - 1]?.SequenceNumber);
    } else failedFrom = 0;
    const remaining = batch.slice(failedFrom);
    if (mapping.bisectOnError && remaining.length > 1) {
      // Splitting does not use up retries: each half is tried afresh, in order.
      const half = Math.ceil(remaining.length / 2);
      await deliver(shardId, remaining.slice(0, half), attempts);
      await deliver(shardId, remaining.slice(half), attempts);
      return;
    }
    const next = attempts + 1;
    if (mapping.maximumRetryAttempts >= 0 && next > mapping.maximumRetryAttempts) {
      await sendToDestination(shardId, remaining, 'RetryAttemptsExhausted', next);
      checkpoint(shardId, remaining[remaining.length - 1]?.SequenceNumber);
      return;
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(next, 5))));
    return deliver(shardId, remaining, next);
  };

  const pollShard = async (shardId: string) => {
    let iterator: string | undefined;
    const newIterator = async () => {
      const after = checkpoints[shardId];
      const out = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: mapping.streamName,
          ShardId: shardId,
          ...(after
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }
            : { ShardIteratorType: mapping.startingPosition }),
        }),
      );
      return out.ShardIterator;
    };
    let pending: Batch = [];
    let windowStart = 0;
    while (running) {
      try {
        iterator ??= await newIterator();
        const out = await kinesis.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: mapping.batchSize }),
        );
        iterator = out.NextShardIterator;
        const records = out.Records ?? [];
        if (records.length > 0 && pending.length === 0) windowStart = Date.now();
        pending.push(...records);
        const windowOver = Date.now() - windowStart >= mapping.batchingWindowSeconds * 1000;
        if (pending.length > 0 && (pending.length >= mapping.batchSize || windowOver)) {
          busy.set(shardId, true);
          while (pending.length > 0 && running) {
            const batch = pending.slice(0, mapping.batchSize);
            pending = pending.slice(mapping.batchSize);
            await deliver(shardId, batch);
          }
          // Records after a checkpoint are read again from it: the iterator restarts there.
          iterator = undefined;
          continue;
        }
        busy.set(shardId, pending.length > 0);
        if (records.length === 0) await new Promise((r) => setTimeout(r, pollMs));
      } catch (error) {
        if (error instanceof ExpiredIteratorException) iterator = undefined;
        else if (running) await new Promise((r) => setTimeout(r, pollMs * 5));
      }
    }
  };

  const shards = await kinesis.send(new ListShardsCommand({ StreamName: mapping.streamName }));
  const loops = (shards.Shards ?? []).map((s) => pollShard(s.ShardId ?? ''));
  return {
    idle: async () => {
      // Idle means: two polls in a row found nothing to do on any shard.
      for (let quiet = 0; quiet < 2; ) {
        await new Promise((r) => setTimeout(r, pollMs * 2));
        quiet = [...busy.values()].some(Boolean) ? 0 : quiet + 1;
      }
    },
    stop: async () => {
      running = false;
      await Promise.allSettled(loops);
    },
  };
};
