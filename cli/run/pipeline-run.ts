import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { type DeploymentRecord, deploymentRecordKey, parseDeploymentRecord } from '../../core/deployment';
import { type IngestReport, ingestId, reportKey } from '../../core/ingest';
import type { RunState } from '../../core/pipeline';
import { startLocalCloud } from '../../local/cloud';
import { readStream } from '../../local/kinesis';
import type { CloudPresence } from '../../local/presence';
import {
  LOCAL_ACCOUNT_ID,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalServiceKey,
  localClientConfig,
  localS3Config,
} from '../../local/types';
import { readRows } from '../read-table';
import { followExecution, formatProgress, inputOfState } from './follow';

/**
 * `mlpipe run`: the whole product on one machine. Starts the local cloud (or uses the one another
 * process runs on the same data folder, as `mlpipe local` does), drops a data file into
 * the raw bucket exactly as a user would, and follows what the event-driven pipeline does with it:
 * ingest, then the training state machine to its outcome, then a few predictions from the model
 * that now serves. Nothing here drives the pipeline; it only uploads and watches.
 */
export interface RunOptions {
  readonly pipeline: string;
  readonly file: string;
  readonly dataDir: string;
  readonly port: number;
  readonly stage: string;
  readonly out: (line: string) => void;
  /** A local cloud another process runs (see runningCloud): used as it is, and left running. */
  readonly attach?: CloudPresence;
}

export interface RunResult {
  readonly report: IngestReport;
  readonly status: string;
  readonly execution?: {
    readonly arn: string;
    readonly status: string;
    readonly error?: string;
    readonly cause?: string;
  };
  readonly state?: RunState;
  readonly deployment?: DeploymentRecord;
}

const text = async (s3: S3Client, bucket: string, key: string): Promise<string> =>
  (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString()) ?? '';

const fmt = (v: number | null | undefined) =>
  v === null || v === undefined ? 'n/a' : Number(v.toFixed(4)).toString();

/** The cloud a run talks to: one it started (and stops), or one another process runs. */
interface CloudSession {
  readonly stage: string;
  readonly endpoints: Readonly<Partial<Record<LocalServiceKey, string>>>;
  /** True for a cloud another process runs: its results are polled for, not waited on. */
  readonly remote: boolean;
  /** Waits for what the cloud is doing in this process; a cloud elsewhere is polled instead. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const openCloud = async (options: RunOptions, since: () => string): Promise<CloudSession> => {
  const { out, attach } = options;
  if (attach) {
    out(
      `Using the local cloud already running on ${options.dataDir} (stage ${attach.stage}, pid ${attach.pid}); its function logs are in its own terminal`,
    );
    return {
      stage: attach.stage,
      endpoints: attach.endpoints,
      remote: true,
      settle: async () => {},
      close: async () => {},
    };
  }
  out(`Starting the local cloud (stage ${options.stage}, data in ${options.dataDir})…`);
  const cloud = await startLocalCloud({
    dataDir: options.dataDir,
    port: options.port,
    stage: options.stage,
    onLog: (line) => {
      if (/"level":"(ERROR|WARN)"/.test(line.line)) out(`  [${line.functionName}] ${line.line}`);
    },
    onTrainingLog: (_job, line) => {
      if (/^(train|validation)-\w+=/.test(line) || /^training /.test(line)) out(`      ${line}`);
    },
  });
  out(
    `Local cloud up in ${since()}: ${Object.keys(cloud.endpoints).length} services, ${cloud.plan.functions.length} functions`,
  );
  return {
    stage: options.stage,
    endpoints: cloud.endpoints,
    remote: false,
    settle: cloud.settle,
    close: cloud.stop,
  };
};

/** An object that an event-driven function will write: polled until it exists. */
const awaitText = async (s3: S3Client, bucket: string, key: string, timeoutMs: number): Promise<string> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await text(s3, bucket, key);
    } catch (error) {
      if ((error as Error).name !== 'NoSuchKey' || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export const runPipeline = async (options: RunOptions): Promise<RunResult> => {
  const { out, pipeline } = options;
  const started = Date.now();
  const since = () => seconds(Date.now() - started);
  const cloud = await openCloud(options, since);
  const { stage } = cloud;
  const s3 = new S3Client(localS3Config(cloud.endpoints.S3 ?? ''));
  const sfn = new SFNClient(localClientConfig(cloud.endpoints.SFN ?? ''));
  const names = { raw: `mlpipe-${stage}-raw`, artifacts: `mlpipe-${stage}-artifacts` };
  try {
    const key = `incoming/${pipeline}/${basename(options.file)}`;
    out(`Dropping ${options.file} (${statSync(options.file).size} bytes) into s3://${names.raw}/${key}`);
    const dropped = Date.now();
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: names.raw,
        Key: key,
        Body: createReadStream(options.file),
        ContentLength: statSync(options.file).size,
      }),
    );
    await cloud.settle();
    const id = ingestId(pipeline, { bucket: names.raw, key, etag: (put.ETag ?? '').replace(/"/g, '') });
    // Ingest of a large file takes a while; the report is its last write before training starts.
    const report = JSON.parse(
      await awaitText(s3, names.artifacts, reportKey(pipeline, id), 15 * 60_000),
    ) as IngestReport;
    const c = report.rowsCurated;
    out(
      // From the drop: the S3 event, the function's cold start and the ingest itself (its own time
      // is in the report), so a slow step is not mistaken for a slow ingest.
      `Ingest ${report.status} ${seconds(Date.now() - dropped)} after the drop (${seconds(report.timings.totalMs ?? 0)} in the function): ${report.rowsIn} rows → train ${c.train}, validation ${c.validation}, test ${c.test}, quarantined ${report.rowsQuarantined}${report.rejection ? ` — ${report.rejection}` : ''}`,
    );
    for (const [reason, count] of Object.entries(report.reasons).slice(0, 5)) out(`    ${count} × ${reason}`);
    if (report.status !== 'curated') return { report, status: 'rejected at ingest' };
    if (report.trainingSkipped !== undefined) {
      out(`No training: ${report.trainingSkipped}`);
      return { report, status: 'not trained' };
    }

    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:mlpipe-${stage}-training:${id}`;
    out(`Training pipeline ${id}:`);
    const description = await followExecution(sfn, executionArn, {
      pollMs: 200,
      pauseAt: 'AwaitApproval',
      appearWithinMs: 60_000,
      onProgress: (p) => {
        if (p.status !== 'entered') out(formatProgress(p));
      },
    });
    const state = (
      description.output
        ? JSON.parse(description.output)
        : description.status === 'RUNNING'
          ? await inputOfState(sfn, executionArn, 'AwaitApproval')
          : undefined
    ) as RunState | undefined;
    const evaluated = state?.evaluated?.result;
    if (evaluated) {
      const metrics = Object.entries(evaluated.metrics)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ');
      out(`Candidate ${evaluated.version} on ${evaluated.rows} test rows: ${metrics}`);
      if (evaluated.champion)
        out(
          `Champion ${evaluated.champion.version}: ${evaluated.gate.comparedOn} ${fmt(evaluated.champion.metrics[evaluated.gate.comparedOn])}`,
        );
      out(`Gate ${evaluated.gate.passed ? 'passed' : `failed: ${evaluated.gate.reasons.join('; ')}`}`);
    }
    if (state?.registered)
      out(`Model registry: ${state.registered.result.modelPackageArn} (${state.registered.result.status})`);
    const status =
      description.status === 'RUNNING' ? 'waiting for approval' : `${description.status?.toLowerCase()}`;
    out(
      `Execution ${status} in ${seconds((description.stopDate ?? new Date()).getTime() - (description.startDate?.getTime() ?? dropped))}${description.error ? ` — ${description.error}: ${description.cause ?? ''}` : ''}`,
    );
    const recordText = await text(s3, names.artifacts, deploymentRecordKey(pipeline)).catch(() => '');
    const deployment = recordText
      ? parseDeploymentRecord(recordText, deploymentRecordKey(pipeline))
      : undefined;
    if (deployment?.champion) {
      out(
        `Serving: champion ${deployment.champion.version}${deployment.challenger ? `, challenger ${deployment.challenger.version} at ${deployment.challenger.weight}` : ''} (${deployment.reason})`,
      );
      await streamPredictions(cloud, pipeline, options.file, out);
    }
    const execution = {
      arn: executionArn,
      status: description.status ?? 'UNKNOWN',
      ...(description.error ? { error: description.error } : {}),
      ...(description.cause ? { cause: description.cause } : {}),
    };
    return { report, status, execution, ...(state ? { state } : {}), ...(deployment ? { deployment } : {}) };
  } finally {
    s3.destroy();
    sfn.destroy();
    await cloud.close();
  }
};

/**
 * Serving, as users get it: the first rows of the dropped file go into the events stream as events,
 * the inference function scores them, and their predictions are read back from the predictions stream.
 */
const streamPredictions = async (
  cloud: CloudSession,
  pipeline: string,
  file: string,
  out: (line: string) => void,
): Promise<void> => {
  const kinesis = new KinesisClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: cloud.endpoints.KINESIS ?? '',
  });
  const streams = {
    events: `mlpipe-${cloud.stage}-events`,
    predictions: `mlpipe-${cloud.stage}-predictions`,
  };
  try {
    const rows = (await readRows(file)).slice(0, 5);
    const plain = (row: Record<string, unknown>) =>
      JSON.parse(JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? Number(v) : v))) as Record<
        string,
        unknown
      >;
    const tag = Date.now().toString(36);
    const ids = rows.map((_, i) => `demo-${tag}-${i}`);
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: streams.events,
        Records: rows.map((row, i) => ({
          Data: Buffer.from(JSON.stringify({ pipeline, id: ids[i], ...plain(row) })),
          PartitionKey: ids[i] ?? String(i),
        })),
      }),
    );
    await cloud.settle();
    const predictions = new Map<string, Record<string, unknown>>();
    // A cloud in another process scores on its own time: read until every event has its prediction.
    const deadline = Date.now() + (cloud.remote ? 30_000 : 0);
    do {
      for (const data of await readStream(kinesis, streams.predictions)) {
        const p = JSON.parse(Buffer.from(data).toString()) as Record<string, unknown>;
        if (ids.includes(String(p.id))) predictions.set(String(p.id), p);
      }
      if (predictions.size < ids.length) await new Promise((r) => setTimeout(r, 250));
    } while (predictions.size < ids.length && Date.now() < deadline);
    out(`Streamed the first ${rows.length} rows into the events stream; from the predictions stream:`);
    rows.forEach((row, i) => {
      const shown = JSON.stringify(plain(row));
      const p = predictions.get(ids[i] ?? '');
      out(
        `    ${shown.length > 100 ? `${shown.slice(0, 97)}...` : shown} → ${p ? `${String(p.prediction)} (${String(p.modelVersion)})` : 'no prediction'}`,
      );
    });
  } finally {
    kinesis.destroy();
  }
};
