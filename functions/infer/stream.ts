import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import {
  decodeRecord,
  type InferenceInput,
  type Poison,
  type Prediction,
  predictionJsonWriter,
} from '../../core/inference';
import type { InferenceMetrics } from './metrics';
import type { ServingModels } from './models';
import { type Outcome, type RecentlyWritten, scoreInputs, type Validators } from './scoring';

/**
 * The stream entry point's work: a Kinesis batch → predictions on the predictions stream, poison
 * records on the failure queue, and a partial batch response for the rest.
 *
 * Exactly once per id and model version: Lambda redelivers a shard from the lowest sequence number
 * reported as failed, so only the records BEFORE the first one that must be retried are committed
 * (predictions and poison written); everything from it on is left for the retry, which sees it
 * again. The one way a prediction could be written twice — a PutRecords retry that leaves some of a
 * chunk written and some not — is covered by remembering recently written (pipeline, id, version)
 * on the instance, which is where Lambda sends a shard's retries while it is warm.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
 */
export interface StreamSettings {
  readonly predictionsStream: string;
  readonly failuresQueueUrl: string;
}

export interface StreamDeps {
  readonly models: ServingModels;
  readonly validators: Validators;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly settings: StreamSettings;
  readonly metrics: InferenceMetrics;
  readonly written: RecentlyWritten;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The steps of a batch, in order. */
export const STREAM_STEPS = ['decodeMs', 'validateMs', 'transformMs', 'scoreMs', 'writeMs'] as const;
export type StreamStep = (typeof STREAM_STEPS)[number];

export interface StreamSummary {
  readonly records: number;
  readonly predicted: number;
  readonly duplicates: number;
  readonly poisoned: number;
  /** Records left for Lambda's retry (from the first failed one on). */
  readonly deferred: number;
  readonly retryReasons: readonly string[];
  /** Where the batch's time went, in ms: the steps the stream bench reports. */
  readonly timings: Readonly<Record<StreamStep, number>>;
}

/** PutRecords takes at most 500 records and 5 MiB: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html */
const PUT_RECORDS_MAX = 500;
const PUT_RECORDS_BYTES = 5 * 2 ** 20;
/** SendMessageBatch: 10 messages, 256 KiB in all (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html). */
const SQS_BATCH_MAX = 10;
const SQS_BATCH_BYTES = 250 * 2 ** 10;
/** What of a poison record's data travels with it; the rest is cut (and said so). */
const POISON_DATA_BYTES = 64 * 2 ** 10;
const WRITE_ATTEMPTS = 4;

/**
 * Step times on one clock, the one scoreInputs times its own steps with, kept to the hundredth of a
 * millisecond for logs and the bench.
 */
const now = () => performance.now();
const hundredths = (duration: number) => Math.round(duration * 100) / 100;

export const scoreStreamBatch = async (
  event: KinesisStreamEvent,
  deps: StreamDeps,
): Promise<{ response: KinesisStreamBatchResponse; summary: StreamSummary }> => {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  const records = event.Records;
  const outcomes: (Outcome | undefined)[] = new Array(records.length);

  // Decode, then validate.
  const parsed: { index: number; input: InferenceInput }[] = [];
  records.forEach((record, index) => {
    const decoded = decodeRecord(record.kinesis.data);
    if (decoded.ok) parsed.push({ index, input: decoded.input });
    else outcomes[index] = { kind: 'poison', poison: decoded.poison };
  });
  const decoded = now();
  const valid: { index: number; input: InferenceInput }[] = [];
  for (const { index, input } of parsed) {
    const checked = deps.validators.check(input);
    if (checked.ok) valid.push({ index, input: checked.input });
    else outcomes[index] = { kind: 'poison', poison: checked.poison };
  }
  const validated = now();

  // Route each pipeline's records through one reading of its deployment record; score per model.
  const scoring = await scoreInputs(valid, deps.models);
  for (const [index, outcome] of scoring.outcomes) outcomes[index] = outcome;
  const traffic = scoring.traffic;
  const scoredAt = now();

  // Commit the records before the first that must wait for a retry.
  let firstRetry = outcomes.findIndex((o) => o?.kind === 'retry');
  if (firstRetry < 0) firstRetry = records.length;
  const toWrite: { index: number; prediction: Prediction }[] = [];
  const toPoison: { index: number; poison: Poison }[] = [];
  let duplicates = 0;
  for (let index = 0; index < firstRetry; index++) {
    const outcome = outcomes[index];
    if (outcome?.kind === 'scored') {
      if (deps.written.has(outcome.prediction)) duplicates++;
      else toWrite.push({ index, prediction: outcome.prediction });
    } else if (outcome?.kind === 'poison') toPoison.push({ index, poison: outcome.poison });
  }
  // Two destinations with nothing between them to order: written at the same time.
  const [failedWrites, failedPoison] = await Promise.all([
    putPredictions(deps, toWrite, sleep),
    sendPoison(deps, event.Records, toPoison, sleep),
  ]);
  for (const w of toWrite) if (!failedWrites.has(w.index)) deps.written.add(w.prediction);
  const written = now();

  const firstFailure = Math.min(firstRetry, ...failedWrites, ...failedPoison);
  const retryReasons = new Set<string>();
  for (let index = firstFailure; index < records.length; index++) {
    const outcome = outcomes[index];
    if (outcome?.kind === 'retry') retryReasons.add(outcome.reason);
  }
  if (failedWrites.size > 0) retryReasons.add('predictions stream: PutRecords kept failing');
  if (failedPoison.size > 0) retryReasons.add('failure queue: SendMessageBatch kept failing');

  for (const t of traffic.values()) {
    const failures = t.indexes.filter((i) => outcomes[i]?.kind === 'retry' || failedWrites.has(i)).length;
    deps.metrics.traffic({
      pipeline: t.pipeline,
      variant: t.variant,
      version: t.version,
      records: t.indexes.length,
      failures,
      latencyMs: written - started,
    });
  }
  const rejected = new Map<string, number>();
  for (const { poison, index } of toPoison)
    if (!failedPoison.has(index) && index < firstFailure)
      rejected.set(poison.reason, (rejected.get(poison.reason) ?? 0) + 1);
  for (const [reason, count] of rejected) deps.metrics.rejected(reason, count);

  const failedRecord: KinesisStreamRecord | undefined = records[firstFailure];
  return {
    response: {
      batchItemFailures: failedRecord ? [{ itemIdentifier: failedRecord.kinesis.sequenceNumber }] : [],
    },
    summary: {
      records: records.length,
      predicted: toWrite.filter((w) => w.index < firstFailure).length,
      duplicates,
      poisoned: toPoison.filter((p) => p.index < firstFailure).length,
      deferred: records.length - firstFailure,
      retryReasons: [...retryReasons],
      timings: {
        decodeMs: hundredths(decoded - started),
        validateMs: hundredths(validated - decoded),
        // Routing and reading deployment records count with the model's time.
        transformMs: hundredths(scoring.timings.transformMs),
        scoreMs: hundredths(scoredAt - validated - scoring.timings.transformMs),
        writeMs: hundredths(written - scoredAt),
      },
    },
  };
};

/**
 * Writes predictions in chunks of PutRecords' limits, retrying what a partial failure left out;
 * returns the indexes that never made it. The chunks go out together: every prediction has its own
 * partition key, so nothing orders them across chunks, and a batch of 1,000 waits for one round
 * trip instead of two.
 */
const putPredictions = async (
  deps: StreamDeps,
  items: readonly { index: number; prediction: Prediction }[],
  sleep: (ms: number) => Promise<void>,
): Promise<Set<number>> => {
  const failed = new Set<number>();
  type Pending = { index: number; entry: PutRecordsRequestEntry }[];
  const write = async (chunk: Pending) => {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let results: { ErrorCode?: string | undefined }[] | undefined;
      try {
        const out = await deps.kinesis.send(
          new PutRecordsCommand({
            StreamName: deps.settings.predictionsStream,
            Records: pending.map((p) => p.entry),
          }),
        );
        results = out.Records;
      } catch {
        results = undefined;
      }
      pending = results ? pending.filter((_, i) => results?.[i]?.ErrorCode !== undefined) : pending;
      if (pending.length === 0) return;
      if (attempt >= WRITE_ATTEMPTS) {
        for (const p of pending) failed.add(p.index);
        return;
      }
      await sleep(50 * 2 ** attempt);
    }
  };
  const chunks: Pending[] = [];
  let chunk: Pending = [];
  let bytes = 0;
  const json = predictionJsonWriter();
  const texts = items.map((item) => json(item.prediction));
  // One buffer for the batch, each record's data a view of it: when every character is ASCII (the
  // buffer is as long as the text), a record's bytes are its characters. 0.25 ms for 1,000 against
  // 0.35 with a buffer each.
  const joined = texts.join('');
  const all = Buffer.from(joined);
  const ascii = all.length === joined.length;
  let at = 0;
  for (const [k, item] of items.entries()) {
    const text = texts[k] as string;
    const data = ascii ? all.subarray(at, at + text.length) : Buffer.from(text);
    at += text.length;
    const size = data.byteLength + item.prediction.id.length;
    if (chunk.length === PUT_RECORDS_MAX || bytes + size > PUT_RECORDS_BYTES) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push({ index: item.index, entry: { Data: data, PartitionKey: item.prediction.id.slice(0, 256) } });
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  await Promise.all(chunks.map(write));
  return failed;
};

/** Sends poison records, with their reason and where they came from, to the failure queue. */
const sendPoison = async (
  deps: StreamDeps,
  records: readonly KinesisStreamRecord[],
  items: readonly { index: number; poison: Poison }[],
  sleep: (ms: number) => Promise<void>,
): Promise<Set<number>> => {
  const failed = new Set<number>();
  const messages = items.map(({ index, poison }) => {
    const record = records[index] as KinesisStreamRecord;
    const data = record.kinesis.data;
    const body = JSON.stringify({
      kind: 'poison-record',
      reason: poison.reason,
      detail: poison.detail,
      ...(poison.problems ? { problems: poison.problems } : {}),
      ...(poison.pipeline ? { pipeline: poison.pipeline } : {}),
      ...(poison.id ? { id: poison.id } : {}),
      source: {
        eventSourceARN: record.eventSourceARN,
        eventID: record.eventID,
        sequenceNumber: record.kinesis.sequenceNumber,
        partitionKey: record.kinesis.partitionKey,
        approximateArrivalTimestamp: record.kinesis.approximateArrivalTimestamp,
      },
      data: data.length > POISON_DATA_BYTES ? data.slice(0, POISON_DATA_BYTES) : data,
      ...(data.length > POISON_DATA_BYTES ? { dataTruncated: true } : {}),
    });
    return { index, entry: { Id: String(index), MessageBody: body } satisfies SendMessageBatchRequestEntry };
  });
  const chunks: (typeof messages)[] = [];
  let current: typeof messages = [];
  let bytes = 0;
  for (const m of messages) {
    const size = Buffer.byteLength(m.entry.MessageBody);
    if (current.length === SQS_BATCH_MAX || (current.length > 0 && bytes + size > SQS_BATCH_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  for (const chunk of chunks) {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let failedIds: Set<string> | undefined;
      try {
        const out = await deps.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: deps.settings.failuresQueueUrl,
            Entries: pending.map((p) => p.entry),
          }),
        );
        failedIds = new Set((out.Failed ?? []).map((f) => f.Id ?? ''));
      } catch {
        failedIds = undefined;
      }
      pending = failedIds ? pending.filter((p) => failedIds?.has(p.entry.Id)) : pending;
      if (pending.length === 0) break;
      if (attempt >= WRITE_ATTEMPTS) {
        for (const p of pending) failed.add(p.index);
        break;
      }
      await sleep(50 * 2 ** attempt);
    }
  }
  return failed;
};
