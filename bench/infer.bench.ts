import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DuckDBInstance } from '@duckdb/node-api';
import { deploymentRecordKey } from '../core/deployment';
import { loadSpecFile } from '../core/spec/load';
import { bundleInference, entryMemoryMb, lambdaStartOf, makeCodeCaches } from '../functions/infer/bundle';
import { NODE_ALLOCATOR } from '../functions/infer/code-cache';
import type { StreamStep } from '../functions/infer/stream';
import { startLocalCloud } from '../local/cloud';
import { readStream } from '../local/kinesis';
import { localClientConfig, localS3Config } from '../local/types';
import { trainOnRows } from '../trainers/gbdt/rows-job';
import { imageAllocator, imageNode } from './image-node';
import { benchDeployment, type HandlerMeasures, kinesisEvent, median } from './infer-handler';
import type { BenchContext, BenchRow } from './types';

/**
 * Inference on the flights model (pipelines/flights.yml: its features fitted on the first rows of
 * flights-3m, a GBDT trained on them): the stream handler against a bare onnxruntime `session.run`
 * on a pre-built tensor of the same 1,000 rows, the cold start of the bundled handler in a fresh
 * process, and a sustained stream through the local cloud.
 */
const REPO = join(__dirname, '..');
const FLIGHTS = join(REPO, 'node_modules/vega-datasets/data/flights-3m.parquet');
const BATCH = 1_000;

type BatchSteps = Readonly<Record<StreamStep, number>>;

/** The step times of the stream handler's "batch scored" log line (Powertools JSON on stdout). */
const loggedSteps = (stdout: string): BatchSteps => {
  const line = stdout.split('\n').find((l) => l.includes('"message":"batch scored"'));
  if (!line) throw new Error(`the cold-start probe logged no "batch scored" line:\n${stdout.slice(0, 2000)}`);
  return (JSON.parse(line) as { timings: BatchSteps }).timings;
};

const flightRows = async (limit: number): Promise<Record<string, unknown>[]> => {
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const c = await db.connect();
  try {
    const reader = await c.runAndReadAll(
      `SELECT strftime(date, '%Y-%m-%dT%H:%M:%S') AS date, delay::INTEGER AS delay, distance::INTEGER AS distance, origin, destination
       FROM read_parquet('${FLIGHTS}') ORDER BY date LIMIT ${limit}`,
    );
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
};

/** Trains the flights model the way the pipeline does: features fitted on train, then the trainer. */
const trainFlights = async (
  workDir: string,
  rows: Record<string, unknown>[],
  rounds: number | undefined,
  log: BenchContext['log'],
) => {
  const spec = loadSpecFile(join(REPO, 'pipelines/flights.yml'));
  const t = Date.now();
  // The spec's hyperparameters (300 trees of depth 8), or fewer trees for a quick run.
  const tar = await trainOnRows(spec, rows, join(workDir, 'flights-job'), {
    version: 'flights-bench',
    ...(rounds === undefined ? {} : { hyperparameters: { num_round: String(rounds) } }),
  });
  log(`trained the flights model on ${rows.length} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return { tar, trees: rounds ?? Number(spec.trainer.hyperparameters.num_round) };
};

export const run = async ({ workDir, quick, log }: BenchContext): Promise<BenchRow[]> => {
  const trainRows = quick ? 30_000 : 300_000;
  const all = await flightRows(trainRows + 10 * BATCH);
  // The model of pipelines/flights.yml (its trees and depth), fitted on the first 300k rows; a quick
  // run trains 30 trees.
  const { tar, trees } = await trainFlights(workDir, all.slice(0, trainRows), quick ? 30 : undefined, log);
  const serveRows = all.slice(trainRows);
  const batch = serveRows.slice(0, BATCH);
  const rows: BenchRow[] = [];

  // 1. Handler vs bare session.run, same 1,000 rows, in a fresh process as a Lambda instance is:
  // not in this one, whose heap holds the training data and the local cloud; run by the node the
  // image runs. Lambda tells the function its memory, from which it sizes onnxruntime's threads
  // (functions/shared/config.ts).
  const node = imageNode();
  // And on the image's allocator, which its start-node.sh preloads (functions/infer/start-node.sh).
  const allocator = imageAllocator();
  log(
    `probes run on node ${node.version}, the inference image's, on ${allocator ? 'mimalloc' : "glibc's malloc"}`,
  );
  const memoryMb = String(entryMemoryMb('stream-handler'));
  const batchFile = join(workDir, 'batch.json');
  writeFileSync(batchFile, JSON.stringify(batch));
  const { stdout: measured } = await promisify(execFile)(
    node.bin,
    [
      join(REPO, 'bin/run-ts.js'),
      join(__dirname, 'infer-handler.ts'),
      tar,
      batchFile,
      join(workDir, 'scratch'),
      String(quick ? 20 : 100),
    ],
    {
      cwd: REPO,
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: memoryMb,
        ...(allocator ? { LD_PRELOAD: allocator } : {}),
      },
      maxBuffer: 2 ** 24,
      timeout: 600_000,
    },
  );
  const m = JSON.parse(measured.slice(measured.lastIndexOf('{"bareMs"'))) as HandlerMeasures;
  const ratio = m.bareMs / m.handlerMs;
  rows.push({
    name: `stream handler throughput ÷ bare session.run (batch ${BATCH}, flights model)`,
    value: ratio,
    unit: '×',
    goal: '>= 0.7',
    pass: ratio >= 0.7,
    details: {
      handlerMsPerBatch: Number(m.handlerMs.toFixed(2)),
      bareSessionRunMsPerBatch: Number(m.bareMs.toFixed(2)),
      handlerRecordsPerSecond: Math.round((BATCH * 1000) / m.handlerMs),
      ...m.steps,
      trees,
      functionMemoryMb: Number(memoryMb),
      onnxruntimeThreads: m.threads,
      node: node.version,
      allocator: allocator ? 'mimalloc' : 'glibc',
    },
  });
  log(
    `handler ${m.handlerMs.toFixed(1)} ms (${Object.entries(m.steps)
      .map(([step, ms]) => `${step.replace(/Ms$/, '')} ${ms.toFixed(2)}`)
      .join(
        ', ',
      )}) vs session.run ${m.bareMs.toFixed(1)} ms per ${BATCH}, ${m.threads} onnxruntime thread(s) as at ${memoryMb} MB`,
  );
  const { location, record } = benchDeployment();

  // 2 and 3 run through the local cloud: the bundled handler's cold start, and a sustained stream.
  const cloud = await startLocalCloud({ dataDir: join(workDir, 'cloud'), port: 0 });
  const s3 = new S3Client(localS3Config(cloud.s3.url));
  const kinesis = new KinesisClient(localClientConfig(cloud.kinesis.url));
  const sqs = new SQSClient(localClientConfig(cloud.sqs.url));
  try {
    const artifacts = 'mlpipe-local-artifacts';
    const liveRecord = {
      ...record,
      champion: {
        version: 'flights-bench',
        model: { bucket: artifacts, key: location.key },
        since: record.updatedAt,
      },
    };
    await s3.send(new PutObjectCommand({ Bucket: artifacts, Key: location.key, Body: readFileSync(tar) }));
    await s3.send(
      new PutObjectCommand({
        Bucket: artifacts,
        Key: deploymentRecordKey('flights'),
        Body: JSON.stringify(liveRecord),
      }),
    );

    // Cold start: a fresh process loads the bundle the image carries, reads the record, fetches and
    // checks the model from S3, and answers one record, written to the predictions stream. Node is
    // the image's, started as Lambda starts it for the function's memory (the bootstrap's flags,
    // through the image's start-node.sh), with the code cache the image's build makes for that.
    const image = join(workDir, 'image');
    const bundled = await bundleInference({
      outdir: image,
      target: `node${node.version.slice(1).split('.')[0]}`,
    });
    if (allocator) copyFileSync(allocator, join(image, 'functions', 'infer', NODE_ALLOCATOR));
    makeCodeCaches(image, undefined, node.bin);
    const start = lambdaStartOf(image, 'stream-handler', node.bin);
    const probe = join(workDir, 'cold.js');
    writeFileSync(
      probe,
      `const t0 = performance.now();
       const { handler } = require(${JSON.stringify(bundled('stream-handler'))});
       const t1 = performance.now();
       handler(JSON.parse(process.argv[2])).then((r) => {
         const t2 = performance.now();
         // Open sockets and runtime threads would keep a finished process alive.
         process.stdout.write(JSON.stringify({ moduleMs: t1 - t0, firstInvokeMs: t2 - t1, failures: r.batchItemFailures.length, execArgv: process.execArgv, preload: process.env.LD_PRELOAD ?? null }), () => process.exit(0));
       }, (e) => { console.error(e); process.exit(1); });`,
    );
    const fnEnv =
      cloud.plan.functions.find((f) => f.functionName === 'mlpipe-local-infer-stream')?.environment ?? {};
    const colds: {
      moduleMs: number;
      firstInvokeMs: number;
      failures: number;
      execArgv: string[];
      preload: string | null;
      steps: BatchSteps;
    }[] = [];
    // Nine starts: on this shared machine one start's time moves by ±10 ms; their median holds.
    for (let i = 0; i < (quick ? 2 : 9); i++) {
      const tmp = join(workDir, `cold-tmp-${i}`);
      mkdirSync(tmp, { recursive: true });
      // Asynchronously: the local cloud answering the probe runs in this very process.
      const { stdout: out, stderr } = await promisify(execFile)(
        start.file,
        [...start.args, probe, JSON.stringify(kinesisEvent(batch.slice(0, 1), `cold${i}`))],
        {
          cwd: REPO,
          env: {
            ...process.env,
            ...fnEnv,
            ...cloud.env,
            TMPDIR: tmp,
            NODE_PATH: join(REPO, 'node_modules'),
            LAMBDA_TASK_ROOT: REPO,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: memoryMb,
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            POWERTOOLS_METRICS_DISABLED: 'true',
            // Powertools' default level, as deployed: the handler logs its batch's step times.
            POWERTOOLS_LOG_LEVEL: 'INFO',
          },
          timeout: 60_000,
        },
      );
      if (stderr.includes('code cache rejected'))
        throw new Error(`the probe ran without its code cache:\n${stderr}`);
      colds.push({ ...JSON.parse(out.slice(out.lastIndexOf('{"moduleMs"'))), steps: loggedSteps(out) });
    }
    if (colds.some((c) => c.failures > 0)) throw new Error('the cold-start probe failed to score its record');
    const cold = median(colds.map((c) => c.moduleMs + c.firstInvokeMs));
    const moduleMs = median(colds.map((c) => c.moduleMs));
    // The first batch's score step holds the model's load: the deployment record and the bundle
    // from S3, their SHA-256, and the onnxruntime session.
    const untilPredictionMs = median(
      colds.map((c) => c.steps.decodeMs + c.steps.validateMs + c.steps.transformMs + c.steps.scoreMs),
    );
    const firstWriteMs = median(colds.map((c) => c.steps.writeMs));
    rows.push({
      name: 'cold start: module load + model load (S3, SHA-256, session) + first prediction',
      value: cold,
      unit: 'ms',
      goal: '<= 150',
      pass: cold <= 150,
      details: {
        moduleLoadMs: Number(moduleMs.toFixed(1)),
        firstInvokeMs: Number(median(colds.map((c) => c.firstInvokeMs)).toFixed(1)),
        modelLoadAndFirstPredictionMs: Number(untilPredictionMs.toFixed(1)),
        firstPutRecordsMs: Number(firstWriteMs.toFixed(1)),
        modelBytes: readFileSync(tar).byteLength,
        node: node.version,
        nodeFlags: colds[0]?.execArgv.join(' ') ?? '',
        // Preloaded by start-node.sh, as in the image.
        allocator: colds[0]?.preload?.includes(NODE_ALLOCATOR) ? 'mimalloc' : 'glibc',
      },
    });
    log(
      `cold start ${cold.toFixed(0)} ms: module ${moduleMs.toFixed(0)}, model load and first prediction ${untilPredictionMs.toFixed(0)}, first PutRecords ${firstWriteMs.toFixed(0)}`,
    );

    // Sustained: records put at a fixed rate for the duration; everything must come out.
    const seconds = quick ? 10 : 60;
    const rate = 5_000;
    const perTick = 500;
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < seconds * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      if (sent >= due) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const records = Array.from({ length: perTick }, (_, k) => {
        const row = serveRows[(sent + k) % serveRows.length] as Record<string, unknown>;
        const id = `s-${sent + k}`;
        return { Data: Buffer.from(JSON.stringify({ pipeline: 'flights', id, ...row })), PartitionKey: id };
      });
      const put = await kinesis.send(
        new PutRecordsCommand({ StreamName: 'mlpipe-local-events', Records: records }),
      );
      if ((put.FailedRecordCount ?? 0) > 0)
        throw new Error(`${put.FailedRecordCount} records refused by Kinesis`);
      sent += perTick;
    }
    const producedIn = (Date.now() - started) / 1000;
    await cloud.settle();
    const drainedIn = (Date.now() - started) / 1000;
    const predicted = (await readStream(kinesis, 'mlpipe-local-predictions')).filter((d) =>
      (JSON.parse(Buffer.from(d).toString()) as { id: string }).id.startsWith('s-'),
    ).length;
    const queue = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: cloud.sqs.queueUrl('mlpipe-local-infer-failures'),
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    const failures = Number(queue.Attributes?.ApproximateNumberOfMessages ?? 0);
    // Kept up: everything offered came out, and the last of it within seconds of the last put.
    const offered = sent / producedIn;
    const lag = drainedIn - producedIn;
    rows.push({
      name: `sustained Kinesis → infer → predictions through the local cloud (${seconds} s offered at ${rate}/s)`,
      value: predicted / producedIn,
      unit: 'records/s',
      goal: `>= ${rate}, nothing lost, caught up within 5 s`,
      pass: offered >= rate * 0.98 && predicted + failures === sent && predicted === sent && lag <= 5,
      details: {
        recordsIn: sent,
        predictionsOut: predicted,
        failures,
        lost: sent - predicted - failures,
        offeredPerSecond: Math.round(offered),
        lagAfterLastPutSeconds: Number(lag.toFixed(1)),
      },
    });
    log(`sustained: ${sent} in, ${predicted} out, ${failures} failed, drained in ${drainedIn.toFixed(1)} s`);
  } finally {
    for (const c of [s3, kinesis, sqs]) c.destroy();
    await cloud.stop();
  }
  return rows;
};
