import { execFile } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runSql } from '../functions/shared/table';
import { startLocalCloud } from '../local/cloud';
import { localS3Config } from '../local/types';
import type { BenchContext, BenchRow } from './types';

/**
 * Ingest of flights-3m written as CSV (~106 MB) against a plain DuckDB `COPY (SELECT …) TO … (FORMAT
 * parquet)` of the same file, each in a process of its own (bench/ingest-probe.ts) so peak RSS is
 * measured per run; then a generated CSV of over 1 GB (flights ten times over) to show memory stays
 * bounded. Ingest here is the whole function core: download from S3, checks, validation of every
 * row against pipelines/flights.yml, split, curated Parquet upload and the report.
 */
const REPO = join(__dirname, '..');
const FLIGHTS = join(REPO, 'node_modules/vega-datasets/data/flights-3m.parquet');
const exec = promisify(execFile);
const BENCH_BUCKET = 'mlpipe-bench-raw';

type Probe = {
  wallMs: number;
  maxRssMb: number;
  rowsIn?: number;
  status?: string;
  timings?: Record<string, number>;
};

const probe = async (args: string[], env: NodeJS.ProcessEnv): Promise<Probe> => {
  const { stdout } = await exec(
    process.execPath,
    [join(REPO, 'bin/run-ts.js'), join(__dirname, 'ingest-probe.ts'), ...args],
    {
      cwd: REPO,
      env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      maxBuffer: 2 ** 24,
      timeout: 1_800_000,
    },
  );
  return JSON.parse(stdout.slice(stdout.lastIndexOf('{"wallMs"'))) as Probe;
};

export const run = async ({ workDir, quick, log }: BenchContext): Promise<BenchRow[]> => {
  const rows: BenchRow[] = [];
  const limit = quick ? 'LIMIT 300000' : '';
  const csv = join(workDir, 'flights.csv');
  await runSql([
    `COPY (SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, delay, distance, origin, destination FROM read_parquet('${FLIGHTS}') ${limit}) TO '${csv}' (FORMAT csv, HEADER true)`,
  ]);
  const big = join(workDir, 'flights-x10.csv');
  if (!quick)
    await runSql([
      `COPY (SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, delay, distance, origin, destination FROM read_parquet('${FLIGHTS}'), range(10)) TO '${big}' (FORMAT csv, HEADER true)`,
    ]);
  const mb = (f: string) => statSync(f).size / 2 ** 20;
  log(`flights CSV ${mb(csv).toFixed(0)} MB${quick ? '' : `, generated ${mb(big).toFixed(0)} MB`}`);

  const cloud = await startLocalCloud({ dataDir: join(workDir, 'cloud'), port: 0 });
  const s3 = new S3Client(localS3Config(cloud.s3.url));
  // The probe is driven directly, so the object goes to a bucket with no notification: the stack's
  // ingest function and a training run would otherwise compete for the cores.
  await s3.send(new CreateBucketCommand({ Bucket: BENCH_BUCKET }));
  const upload = async (file: string, key: string) => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: BENCH_BUCKET,
        Key: key,
        Body: createReadStream(file),
        ContentLength: statSync(file).size,
      }),
    );
    return [(put.ETag ?? '').replace(/"/g, ''), String(statSync(file).size)];
  };
  const env = { ...cloud.env, MLPIPE_SCRATCH_DIR: workDir };
  try {
    const [etag = '', size = ''] = await upload(csv, 'incoming/flights/flights.csv');
    const reference = await probe(['duckdb', csv, join(workDir, 'reference.parquet')], env);
    // As an S3 event gives them: the object's key, ETag and size.
    const ingest = await probe(['ingest', BENCH_BUCKET, 'incoming/flights/flights.csv', etag, size], env);
    if (ingest.status !== 'curated') throw new Error(`ingest ended ${ingest.status}`);
    const ratio = reference.wallMs / ingest.wallMs;
    rows.push({
      name: `ingest throughput ÷ DuckDB COPY to Parquet (flights${quick ? ' 300k' : '-3m'} CSV, ${mb(csv).toFixed(0)} MB)`,
      value: ratio,
      unit: '×',
      goal: '>= 0.5',
      pass: ratio >= 0.5,
      details: {
        ingestSeconds: Number((ingest.wallMs / 1000).toFixed(1)),
        duckdbCopySeconds: Number((reference.wallMs / 1000).toFixed(1)),
        rowsIn: ingest.rowsIn ?? 0,
        rowsPerSecond: Math.round(((ingest.rowsIn ?? 0) * 1000) / ingest.wallMs),
        ...Object.fromEntries(Object.entries(ingest.timings ?? {}).map(([k, v]) => [k, v])),
      },
    });
    rows.push({
      name: 'ingest peak RSS on that file',
      value: ingest.maxRssMb,
      unit: 'MB',
      goal: '<= 1536',
      pass: ingest.maxRssMb <= 1536,
      details: { duckdbCopyPeakRssMb: Math.round(reference.maxRssMb) },
    });
    log(
      `ingest ${(ingest.wallMs / 1000).toFixed(1)} s, DuckDB COPY ${(reference.wallMs / 1000).toFixed(1)} s, peak RSS ${ingest.maxRssMb.toFixed(0)} MB`,
    );
    if (!quick) {
      const [bigEtag = '', bigSize = ''] = await upload(big, 'incoming/flights/flights-x10.csv');
      const large = await probe(
        ['ingest', BENCH_BUCKET, 'incoming/flights/flights-x10.csv', bigEtag, bigSize],
        env,
      );
      rows.push({
        name: `ingest peak RSS on a generated ${(mb(big) / 1024).toFixed(2)} GB CSV (bounded memory)`,
        value: large.maxRssMb,
        unit: 'MB',
        goal: '<= 1536 and about the same as on the 106 MB file',
        pass: large.maxRssMb <= 1536,
        details: {
          rowsIn: large.rowsIn ?? 0,
          seconds: Number((large.wallMs / 1000).toFixed(1)),
          status: large.status ?? '',
        },
      });
      log(
        `ingest of ${mb(big).toFixed(0)} MB: ${(large.wallMs / 1000).toFixed(1)} s, peak RSS ${large.maxRssMb.toFixed(0)} MB`,
      );
    }
  } finally {
    s3.destroy();
    await cloud.stop();
  }
  return rows;
};
