import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DeploymentRecord, deploymentRecordKey } from '../../core/deployment';
import { exampleRows } from '../../core/spec/examples';
import { compileSpecs, loadSpecs, pipelineNames } from '../../core/spec/load';
import { trainOnRows } from '../../trainers/gbdt/rows-job';
import {
  bundleDigest,
  COMPILED_SPECS,
  codeCacheOf,
  lambdaStart,
  loadBundle,
  NODE_START,
  readCodeCachePlan,
} from './code-cache';
import { startPrimingServices } from './priming';

// Makes the code caches of the inference image's bundles (code-cache.ts): kept apart from the loader,
// which every cold start runs, for what this needs (child_process alone is ~6 ms to load there).

/** A record a priming run sends: its pipeline, id and fields. */
interface PrimingRecord {
  readonly pipeline: string;
  readonly id: string;
  readonly fields: Record<string, unknown>;
}

/**
 * What a priming run needs to score: for each pipeline, a small model trained on rows its spec
 * accepts (core/spec/examples.ts), the deployment record that serves it, and one record to score.
 * `objects` are the files the S3 stand-in serves, by "bucket/key".
 */
interface PrimingKit {
  readonly objects: Record<string, string>;
  readonly records: PrimingRecord[];
}

const PRIMING_BUCKET = 'priming';

const makePrimingKit = async (pipelinesDir: string, dir: string): Promise<PrimingKit> => {
  const objects: Record<string, string> = {};
  const records: PrimingRecord[] = [];
  for (const [pipeline, spec] of loadSpecs(pipelinesDir)) {
    const version = `${pipeline}-priming`;
    const rows = exampleRows(spec, 12);
    let tar: string;
    try {
      // Two trees of two levels: what runs is the same code whatever the model's size.
      tar = await trainOnRows(spec, rows, join(dir, pipeline), {
        version,
        hyperparameters: { num_round: '2', max_depth: '2' },
      });
    } catch (error) {
      // A spec whose example rows train no model costs the image a few milliseconds of cold start,
      // not its build: the others still prime.
      console.warn(`no priming model of ${pipeline}: ${(error as Error).message}`);
      continue;
    }
    const model = { bucket: PRIMING_BUCKET, key: `models/${pipeline}/${version}/output/model.tar.gz` };
    const since = new Date(0).toISOString();
    const record: DeploymentRecord = {
      pipeline,
      champion: { version, model, since },
      challenger: null,
      updatedAt: since,
      reason: 'priming the code cache',
    };
    const recordFile = join(dir, `${pipeline}.live.json`);
    writeFileSync(recordFile, JSON.stringify(record));
    objects[`${PRIMING_BUCKET}/${deploymentRecordKey(pipeline)}`] = recordFile;
    objects[`${model.bucket}/${model.key}`] = tar;
    const { [spec.target.column]: _target, ...fields } = rows[0] ?? {};
    records.push({ pipeline, id: `priming-${pipeline}`, fields });
  }
  return { objects, records };
};

/**
 * One event per entry point for the run that makes its cache, carrying `records`: every one on the
 * stream, the first over HTTPS, and a file of the first's pipeline to the batch entry point. With the
 * kit's records the stream and HTTPS runs score them; the batch run, whose output the S3 stand-in
 * does not take, and every run without a kit (a record with no fields) stop early, yet through the
 * paths a first batch takes: decoding, the spec's first reading, validation, a signed request.
 */
const primingEvents = (records: readonly PrimingRecord[]): Record<string, unknown> => {
  const first = records[0] ?? { pipeline: 'priming', id: 'priming', fields: {} };
  return {
    'stream-handler': {
      Records: records.map((r, i) => ({
        eventSource: 'aws:kinesis',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/priming',
        kinesis: {
          data: Buffer.from(JSON.stringify({ pipeline: r.pipeline, id: r.id, ...r.fields })).toString(
            'base64',
          ),
          partitionKey: r.id,
          sequenceNumber: String(i + 1),
        },
      })),
    },
    'http-handler': {
      body: JSON.stringify({ pipeline: first.pipeline, records: [{ id: first.id, ...first.fields }] }),
      isBase64Encoded: false,
      headers: { 'content-type': 'application/json' },
      requestContext: { requestId: 'priming', http: { method: 'POST', path: '/' } },
    },
    'batch-handler': {
      Records: [
        {
          s3: {
            bucket: { name: PRIMING_BUCKET },
            object: { key: `batch-input/${first.pipeline}/priming.csv` },
          },
        },
      ],
    },
  };
};

/** The entry points a kit's records are scored by, against the stand-ins. */
const SCORING_ENTRIES: ReadonlySet<string> = new Set(['stream-handler', 'http-handler']);

/** What the functions read from their environment, with nothing behind it: requests are refused. */
const primingEnvironment = (scratch: string) => {
  const nowhere = 'http://127.0.0.1:9';
  return {
    ARTIFACTS_BUCKET: PRIMING_BUCKET,
    RAW_BUCKET: PRIMING_BUCKET,
    PREDICTIONS_STREAM: 'priming',
    FAILURES_QUEUE_URL: `${nowhere}/000000000000/priming`,
    MLPIPE_SCRATCH_DIR: scratch,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'priming',
    AWS_SECRET_ACCESS_KEY: 'priming',
    AWS_ENDPOINT_URL: nowhere,
    AWS_MAX_ATTEMPTS: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
};

/**
 * In a process started as Lambda starts the function's: loads `bundle`, sends its handler one priming
 * event, and writes what V8 compiled meanwhile as the bundle's cache. Given the kit, the stream and
 * HTTPS handlers get records they score, against stand-ins for S3 and Kinesis in this process.
 */
const prime = async (bundle: string, pipelinesDir: string, kitFile?: string) => {
  const entry = bundle.replace(/^.*\//, '').replace(/\.bundle\.js$/, '');
  const kit = kitFile ? (JSON.parse(readFileSync(kitFile, 'utf8')) as PrimingKit) : undefined;
  const scoring = kit !== undefined && SCORING_ENTRIES.has(entry);
  // Its clients are built as the bundle loads: the stand-ins' addresses must be set before.
  const services =
    scoring && kit
      ? await startPrimingServices(
          new Map(Object.entries(kit.objects).map(([key, file]) => [key, readFileSync(file)])),
        )
      : undefined;
  if (services) {
    process.env.AWS_ENDPOINT_URL_S3 = services.s3Url;
    process.env.AWS_ENDPOINT_URL_KINESIS = services.kinesisUrl;
  }
  const digest = bundleDigest(readFileSync(bundle));
  const { exports, script } = loadBundle(bundle, digest);
  const records = kit?.records ?? [
    { pipeline: pipelineNames(pipelinesDir)[0] ?? 'priming', id: 'priming', fields: {} },
  ];
  const handler = exports.handler as (event: unknown) => Promise<unknown>;
  let outcome: string;
  try {
    const answer = (await handler(primingEvents(records)[entry])) as {
      batchItemFailures?: unknown[];
      statusCode?: number;
    };
    outcome = !scoring
      ? 'stopped at its first request'
      : answer.batchItemFailures !== undefined
        ? `scored ${kit?.records.length} record(s), ${answer.batchItemFailures.length} failed, ${services?.written()} written`
        : `answered ${answer.statusCode}`;
  } catch (error) {
    // Expected without a kit: nothing answers its requests. What it compiled on the way is what counts.
    outcome = `stopped at ${(error as Error).name}`;
  }
  writeFileSync(codeCacheOf(bundle, digest), script.createCachedData());
  await services?.close();
  process.stdout.write(`${JSON.stringify({ outcome })}\n`);
};

/**
 * Makes the cache of each bundle in `dir` that the plan names, each in a process of its own started
 * as Lambda starts its function, by its memory size. The stream and HTTPS entry points are primed
 * with a batch they score and write, against stand-ins for S3 and Kinesis (priming.ts) serving
 * models trained here on each spec's example rows: with only what a run that stops at its first
 * request compiles, the first batch compiled the rest (the SDK's answers, the schemas, the write),
 * 3-4 ms of every cold start (bench/README.md, session 17). The Dockerfile's last stage runs this (`node make-code-cache.bundle.js
 * make <pipelines dir>`) with the image's node; so do the bench and a test.
 */
const makeCodeCaches = async (dir: string, pipelinesDir: string) => {
  // First the specs, so that the priming runs read them as the functions will.
  writeFileSync(join(dir, COMPILED_SPECS), JSON.stringify(compileSpecs(pipelinesDir)));
  const work = mkdtempSync(join(tmpdir(), 'mlpipe-priming-'));
  try {
    const kit = await makePrimingKit(pipelinesDir, join(work, 'models'));
    let kitFile: string | undefined;
    if (kit.records.length > 0) {
      kitFile = join(work, 'kit.json');
      writeFileSync(kitFile, JSON.stringify(kit));
    } else console.warn('no priming models: the caches are made from runs that stop at their first request');
    for (const [entry, memoryMb] of Object.entries(readCodeCachePlan(dir))) {
      const bundle = join(dir, `${entry}.bundle.js`);
      // Started as Lambda starts the function: the bootstrap's flags, through the image's start-node.sh.
      const start = lambdaStart(dir, memoryMb);
      const scratch = mkdtempSync(join(work, 'scratch-'));
      const out = execFileSync(
        start.file,
        [...start.args, __filename, 'prime', bundle, pipelinesDir, ...(kitFile ? [kitFile] : [])],
        {
          // None of this machine's AWS settings (an endpoint of the local cloud, a profile) may reach it.
          env: {
            ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
            ...primingEnvironment(scratch),
          },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
          // What it asks for is answered at once or refused; a build must not wait on anything else.
          timeout: 120_000,
        },
      );
      const { outcome } = JSON.parse(out.slice(out.lastIndexOf('{"outcome"'))) as { outcome: string };
      console.log(
        `${bundle}: code cache made under ${start.args.slice(1).join(' ')} through ${NODE_START}, after a priming run that ${outcome}`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
};

if (require.main === module) {
  const [command, first = '', second = '', third] = process.argv.slice(2);
  const done = (run: Promise<void>) =>
    run.then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  if (command === 'make') done(makeCodeCaches(__dirname, first));
  else if (command === 'prime') done(prime(first, second, third));
  else {
    console.error('usage: node make-code-cache.bundle.js make <pipelines dir>');
    process.exit(2);
  }
}
