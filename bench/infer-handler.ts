// The stream handler against a bare onnxruntime `session.run` on the same 1,000 rows, in a process of
// its own, as in a Lambda instance (bench/infer.bench.ts starts it):
//   infer-handler.ts <model.tar.gz> <rows.json> <scratch dir> <repeats>
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { DeploymentRecord } from '../core/deployment';
import { loadServingModel, readBundle } from '../core/model';
import { SpecCatalog } from '../core/spec/load';
import type { InferenceMetrics } from '../functions/infer/metrics';
import { bundleCachePath, ServingModels } from '../functions/infer/models';
import { RecentlyWritten, Validators } from '../functions/infer/scoring';
import { STREAM_STEPS, type StreamStep, scoreStreamBatch } from '../functions/infer/stream';
import { loadConfig } from '../functions/shared/config';
import { withoutSdkLogging } from '../functions/shared/sdk';
import { lambdaKinesisRecord } from '../local/event-sources/kinesis';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/types';

const REPO = join(__dirname, '..');

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

export const kinesisEvent = (
  records: readonly Record<string, unknown>[],
  prefix: string,
): KinesisStreamEvent => ({
  Records: records.map((r, i) =>
    lambdaKinesisRecord(
      {
        data: JSON.stringify({ pipeline: 'flights', id: `${prefix}-${i}`, ...r }),
        partitionKey: `${prefix}-${i}`,
        sequenceNumber: String(i),
      },
      'bench',
    ),
  ),
});

/** In a PutRecords body a record's data is base64 and its key escaped JSON: neither holds `"Data":`. */
const DATA_MEMBER = Buffer.from('"Data":');
const countRecords = (body: Buffer): number => {
  let count = 0;
  for (let at = body.indexOf(DATA_MEMBER); at >= 0; at = body.indexOf(DATA_MEMBER, at + 1)) count++;
  return count;
};

/** PutRecords' answer of success for `records` records. */
const putRecordsAnswer = (records: number) =>
  Buffer.from(
    JSON.stringify({
      FailedRecordCount: 0,
      Records: Array.from({ length: records }, (_, i) => ({
        SequenceNumber: `4964${String(i).padStart(52, '0')}`,
        ShardId: 'shardId-000000000000',
      })),
    }),
  );

/**
 * A Kinesis client whose requests are built, signed and serialised by the real SDK (built as the
 * stream handler builds its own) and answered at once with success: the cost of the write on the
 * function's side. The stand-in service only counts the records it must answer for, and answers
 * as many with an answer written once, so the bench does not charge the function with work Kinesis
 * does on its own servers: parsing the request, writing the answer.
 */
const sinkKinesis = () => {
  const answers = new Map<number, Buffer>();
  return withoutSdkLogging(
    new KinesisClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: 'http://127.0.0.1:9',
      requestHandler: {
        handle: async (request: { body?: unknown }) => {
          const raw = request.body ?? '';
          // A view of the body's bytes: the SDK's body warns when it is read as a string.
          const records = countRecords(
            raw instanceof Uint8Array
              ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
              : Buffer.from(String(raw)),
          );
          let body = answers.get(records);
          if (!body) {
            body = putRecordsAnswer(records);
            answers.set(records, body);
          }
          return {
            response: {
              statusCode: 200,
              headers: { 'content-type': 'application/x-amz-json-1.1' },
              body: Readable.from([body]),
            },
          };
        },
      } as never,
    }),
  );
};

const quietMetrics: InferenceMetrics = { traffic: () => {}, rejected: () => {} };

/** The bench model as the only champion of flights, and where its bundle is. */
export const benchDeployment = () => {
  const location = { bucket: 'bench', key: 'models/flights/flights-bench/output/model.tar.gz' };
  const record: DeploymentRecord = {
    pipeline: 'flights',
    champion: { version: 'flights-bench', model: location, since: new Date().toISOString() },
    challenger: null,
    updatedAt: new Date().toISOString(),
    reason: 'bench',
  };
  return { location, record };
};

export interface HandlerMeasures {
  readonly bareMs: number;
  readonly handlerMs: number;
  /** onnxruntime's intra-op threads, the handler's session and the bare one alike (0: its default). */
  readonly threads: number;
  /** Medians of the handler's own timings, the steps of its batch. */
  readonly steps: Readonly<Record<StreamStep, number>>;
}

export const measureHandler = async (
  tar: string,
  batch: readonly Record<string, unknown>[],
  scratch: string,
  repeats: number,
  threads: number,
): Promise<HandlerMeasures> => {
  // The model as it serves; its own encode builds the tensor the bare runs are given, and its own
  // session runs them. (Its options leave a run back to back as fast as onnxruntime's defaults do:
  // 13.9-14.0 against 14.1-14.6 ms. A second session with the defaults would not do: its threads,
  // spinning after each bare run, took a core from the handler's batch that followed.)
  const model = await loadServingModel(await readBundle(tar), { threads });
  const matrix = model.encode(batch);
  const { location, record } = benchDeployment();
  // The deployment record is served from the TTL cache in steady state; the bundle from /tmp.
  class BenchModels extends ServingModels {
    override async deployment() {
      return record;
    }
  }
  const models = new BenchModels(new S3Client({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }), {
    artifactsBucket: 'bench',
    scratchDir: scratch,
    recordTtlMs: 5_000,
    memoryBudgetBytes: 2 ** 30,
    scorerThreads: threads,
  });
  const cached = bundleCachePath(scratch, location);
  mkdirSync(dirname(cached), { recursive: true });
  copyFileSync(tar, cached);
  const deps = {
    models,
    validators: new Validators(new SpecCatalog(join(REPO, 'pipelines'))),
    kinesis: sinkKinesis(),
    sqs: new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    settings: { predictionsStream: 'bench', failuresQueueUrl: 'http://127.0.0.1:9/q' },
    metrics: quietMetrics,
    written: new RecentlyWritten(),
  };
  const handler: number[] = [];
  const parts = Object.fromEntries(STREAM_STEPS.map((k) => [k, [] as number[]])) as Record<
    StreamStep,
    number[]
  >;
  const bare: number[] = [];
  const bareRun = async () => {
    const t = performance.now();
    await model.run(matrix, batch.length);
    return performance.now() - t;
  };
  let batches = 0;
  const handlerRun = async () => {
    const event = kinesisEvent(batch, `b${batches++}`);
    const t = performance.now();
    const { summary } = await scoreStreamBatch(event, deps);
    const ms = performance.now() - t;
    if (summary.predicted !== batch.length)
      throw new Error(`the handler scored ${summary.predicted} of ${batch.length}`);
    return { ms, summary };
  };
  // The two take turns, so a change in the machine's load between them (it is shared) falls on
  // both alike. Each is measured on its second run in a row: a bare run after a bare run, as back
  // to back as a bare loop, and a batch after a batch, as a warm instance serves them.
  try {
    for (let i = 0; i < repeats + 5; i++) {
      await bareRun();
      const b = await bareRun();
      await handlerRun();
      const { ms, summary } = await handlerRun();
      if (i < 5) continue;
      bare.push(b);
      handler.push(ms);
      for (const k of STREAM_STEPS) parts[k].push(summary.timings[k]);
    }
  } finally {
    await model.release();
    await models.release();
  }
  return {
    bareMs: median(bare),
    handlerMs: median(handler),
    threads,
    steps: Object.fromEntries(STREAM_STEPS.map((k) => [k, median(parts[k])])) as HandlerMeasures['steps'],
  };
};

// Run as a script (bin/run-ts.js makes this file argv[1]), not when imported by the bench.
if (resolve(process.argv[1] ?? '') === __filename) {
  const [tar = '', rowsFile = '', scratch = '', repeats = '100'] = process.argv.slice(2);
  const rows = JSON.parse(readFileSync(rowsFile, 'utf8')) as Record<string, unknown>[];
  // onnxruntime's threads as the function has them: from its memory, which the bench passes as
  // Lambda does (AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
  measureHandler(tar, rows, scratch, Number(repeats), loadConfig('scorerThreads').scorerThreads).then(
    (measures) => process.stdout.write(`${JSON.stringify(measures)}\n`, () => process.exit(0)),
    (error: Error) => {
      process.stderr.write(`${error.stack}\n`);
      process.exit(1);
    },
  );
}
