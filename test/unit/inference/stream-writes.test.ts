import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { DeploymentRecord } from '../../../core/deployment';
import { SpecCatalog } from '../../../core/spec/load';
import type { InferenceMetrics, ModelTraffic } from '../../../functions/infer/metrics';
import { bundleCachePath, ServingModels } from '../../../functions/infer/models';
import { RecentlyWritten, Validators } from '../../../functions/infer/scoring';
import { scoreStreamBatch } from '../../../functions/infer/stream';
import { lambdaKinesisRecord } from '../../../local/event-sources/kinesis';
import { jsonDataset } from '../../support/datasets';
import { PENGUIN_HYPERPARAMETERS, trainModel } from '../../support/models';

// PutRecords partial failures and an unreachable failure queue: errors the local Kinesis and SQS
// never produce, so the SDK clients are mocked here and only here.
const penguins = jsonDataset('penguins.json');
const location = { bucket: 'artifacts', key: 'models/penguins/v1/output/model.tar.gz' };
const record: DeploymentRecord = {
  pipeline: 'penguins',
  champion: { version: 'v1', model: location, since: '2026-11-23T00:00:00.000Z' },
  challenger: null,
  updatedAt: '2026-11-23T00:00:00.000Z',
  reason: 'test',
};

class FixedModels extends ServingModels {
  override async deployment() {
    return record;
  }
}

const event = (rows: readonly Record<string, unknown>[], extra: string[] = []): KinesisStreamEvent => ({
  Records: [...rows.map((r, i) => JSON.stringify({ pipeline: 'penguins', id: `r${i}`, ...r })), ...extra].map(
    (data, i) =>
      lambdaKinesisRecord({ data, partitionKey: String(i), sequenceNumber: String(100 + i) }, 'events'),
  ),
});

describe('the stream entry point when its writes fail', () => {
  const work = mkdtempSync(join(tmpdir(), 'mlpipe-stream-writes-'));
  const kinesisMock = mockClient(KinesisClient);
  const sqsMock = mockClient(SQSClient);
  let models: FixedModels;
  const traffic: ModelTraffic[] = [];
  const metrics: InferenceMetrics = { traffic: (t) => traffic.push(t), rejected: () => {} };
  const deps = () => ({
    models,
    validators: new Validators(new SpecCatalog('pipelines')),
    kinesis: new KinesisClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    settings: { predictionsStream: 'predictions', failuresQueueUrl: 'https://sqs/queue' },
    metrics,
    written,
    sleep: async () => {},
  });
  let written: RecentlyWritten;

  beforeAll(async () => {
    const tar = await trainModel(work, 'v1', penguins, { ...PENGUIN_HYPERPARAMETERS, num_round: '20' });
    const scratch = join(work, 'scratch');
    // Where the loader keeps a fetched bundle: the test needs no S3.
    const cached = bundleCachePath(scratch, location);
    mkdirSync(dirname(cached), { recursive: true });
    copyFileSync(tar, cached);
    models = new FixedModels(new S3Client({ region: 'us-east-1' }), {
      artifactsBucket: 'artifacts',
      scratchDir: scratch,
      recordTtlMs: 1_000,
      memoryBudgetBytes: 2 ** 28,
      scorerThreads: 0,
    });
  }, 60_000);
  beforeEach(() => {
    kinesisMock.reset();
    sqsMock.reset();
    written = new RecentlyWritten();
    traffic.length = 0;
  });
  afterAll(async () => {
    await models.release();
    rmSync(work, { recursive: true, force: true });
  });

  it('retries only the records a partial PutRecords failure left out, and writes each once', async () => {
    kinesisMock
      .on(PutRecordsCommand)
      .resolvesOnce({
        FailedRecordCount: 2,
        Records: [
          { SequenceNumber: '1', ShardId: 's' },
          { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' },
          { SequenceNumber: '3', ShardId: 's' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'oops' },
        ],
      })
      .resolves({
        FailedRecordCount: 0,
        Records: [
          { SequenceNumber: '9', ShardId: 's' },
          { SequenceNumber: '10', ShardId: 's' },
        ],
      });
    const { response, summary } = await scoreStreamBatch(event(penguins.slice(0, 4)), deps());
    expect(response.batchItemFailures).toEqual([]);
    expect(summary.predicted).toBe(4);
    const calls = kinesisMock.commandCalls(PutRecordsCommand);
    expect(calls).toHaveLength(2);
    const ids = (n: number) =>
      (calls[n]?.args[0].input.Records ?? []).map((r) => JSON.parse(Buffer.from(r.Data ?? []).toString()).id);
    expect(ids(0)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(ids(1)).toEqual(['r1', 'r3']);
  });

  it('reports where the time of a batch went, step by step, with the wait for PutRecords under write', async () => {
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: { Records: unknown[] }) => {
      await new Promise((r) => setTimeout(r, 20));
      return {
        FailedRecordCount: 0,
        Records: input.Records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 's' })),
      };
    });
    const { summary } = await scoreStreamBatch(event(penguins.slice(0, 4)), deps());
    expect(summary.predicted).toBe(4);
    const { decodeMs, validateMs, transformMs, scoreMs, writeMs } = summary.timings;
    for (const step of [decodeMs, validateMs, transformMs, scoreMs, writeMs])
      expect(step).toBeGreaterThanOrEqual(0);
    expect(writeMs).toBeGreaterThanOrEqual(15);
  });

  it('writes a batch over the 500-record PutRecords limit as chunks in flight together, each record once', async () => {
    let inFlight = 0;
    let most = 0;
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: { Records: unknown[] }) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight -= 1;
      return {
        FailedRecordCount: 0,
        Records: input.Records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 's' })),
      };
    });
    const rows = Array.from(
      { length: 600 },
      (_, i) => penguins[i % penguins.length] as Record<string, unknown>,
    );
    const { response, summary } = await scoreStreamBatch(event(rows), deps());
    expect(response.batchItemFailures).toEqual([]);
    expect(summary.predicted).toBe(600);
    const calls = kinesisMock.commandCalls(PutRecordsCommand);
    expect(calls.map((c) => c.args[0].input.Records?.length)).toEqual([500, 100]);
    expect(most).toBe(2);
    const ids = calls.flatMap((c) =>
      (c.args[0].input.Records ?? []).map(
        (r) => JSON.parse(Buffer.from(r.Data ?? []).toString()).id as string,
      ),
    );
    expect(new Set(ids).size).toBe(600);
  });

  it('writes each prediction as a record of its own, whatever characters the ids hold', async () => {
    kinesisMock.on(PutRecordsCommand).callsFake((input: { Records: unknown[] }) => ({
      FailedRecordCount: 0,
      Records: input.Records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 's' })),
    }));
    const ids = ['pingüino-1', 'ascii-2', '企鹅-3', 'quote"4'];
    const batch = event(
      [],
      ids.map((id) => JSON.stringify({ pipeline: 'penguins', id, ...penguins[0] })),
    );
    const { summary } = await scoreStreamBatch(batch, deps());
    expect(summary.predicted).toBe(ids.length);
    const sent = kinesisMock
      .commandCalls(PutRecordsCommand)
      .flatMap((c) => c.args[0].input.Records ?? [])
      .map((r) => ({ key: r.PartitionKey, data: JSON.parse(Buffer.from(r.Data ?? []).toString()) }));
    expect(sent.map((r) => [r.key, r.data.id])).toEqual(ids.map((id) => [id, id]));
    expect(sent.every((r) => r.data.modelVersion === 'v1' && typeof r.data.prediction === 'string')).toBe(
      true,
    );
  });

  it('reports the first record it could not write, and writes nothing twice when Lambda retries from there', async () => {
    // r2 never gets through; r0, r1 and r3 do.
    kinesisMock.on(PutRecordsCommand).callsFake((input: { Records: { Data: Uint8Array }[] }) => {
      const results = input.Records.map((r) =>
        JSON.parse(Buffer.from(r.Data).toString()).id === 'r2'
          ? { ErrorCode: 'InternalFailure' }
          : { SequenceNumber: '1', ShardId: 's' },
      );
      return { FailedRecordCount: results.filter((r) => 'ErrorCode' in r).length, Records: results };
    });
    const batch = event(penguins.slice(0, 4));
    const first = await scoreStreamBatch(batch, deps());
    expect(first.response.batchItemFailures).toEqual([{ itemIdentifier: '102' }]);
    expect(traffic.at(-1)).toMatchObject({ records: 4, failures: 1 });

    // The retry starts at r2: now it succeeds, and r3 (already written) is not written again.
    kinesisMock.reset();
    kinesisMock
      .on(PutRecordsCommand)
      .resolves({ FailedRecordCount: 0, Records: [{ SequenceNumber: '5', ShardId: 's' }] });
    const retry = await scoreStreamBatch({ Records: batch.Records.slice(2) }, deps());
    expect(retry.response.batchItemFailures).toEqual([]);
    expect(retry.summary).toMatchObject({ predicted: 1, duplicates: 1 });
    const sent = kinesisMock
      .commandCalls(PutRecordsCommand)
      .flatMap((c) =>
        (c.args[0].input.Records ?? []).map((r) => JSON.parse(Buffer.from(r.Data ?? []).toString()).id),
      );
    expect(sent).toEqual(['r2']);
  });

  it('holds back a poison record, and everything after it, while the failure queue cannot take it', async () => {
    kinesisMock
      .on(PutRecordsCommand)
      .resolves({ FailedRecordCount: 0, Records: [{ SequenceNumber: '1', ShardId: 's' }] });
    sqsMock.on(SendMessageBatchCommand).rejects(new Error('queue unreachable'));
    const { response, summary } = await scoreStreamBatch(
      event(penguins.slice(0, 2), ['{"not": "an event"']),
      deps(),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '102' }]);
    expect(summary).toMatchObject({ predicted: 2, poisoned: 0, deferred: 1 });
    expect(summary.retryReasons).toContain('failure queue: SendMessageBatch kept failing');
  });
});
