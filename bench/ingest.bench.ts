import { execFile } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { writeCompiledSpecs } from '../core/spec/load';
import { runSql } from '../functions/shared/table';
import { startLocalCloud } from '../local/cloud';
import { localS3Config } from '../local/types';
import { type NodeRelease, nodeRelease } from './image-node';
import type { BenchContext, BenchRow } from './types';

/**
 * Ingest of flights-3m written as CSV (~106 MB) against a plain DuckDB `COPY (SELECT …) TO … (FORMAT
 * parquet)` of the same file, each in processes of their own (bench/ingest-probe.ts) so peak RSS is
 * measured per process, and each twice per process: cold, then warm, as Lambda runs a function
 * again in an environment it keeps. Then a generated CSV of over 1 GB (flights ten times over) to
 * show memory stays bounded. Ingest here is the whole function core: download from S3, checks,
 * validation of every row against pipelines/flights.yml, split, curated Parquet upload and the
 * report.
 */
const REPO = join(__dirname, '..');
const FLIGHTS = join(REPO, 'node_modules/vega-datasets/data/flights-3m.parquet');
const exec = promisify(execFile);
const BENCH_BUCKET = 'mlpipe-bench-raw';

/** One measured run: an ingest (with what its report says) or the reference's COPY. */
type Run = {
  wallMs: number;
  rowsIn?: number;
  status?: string;
  timings?: Record<string, number>;
};

/** A probe process: its runs in order (the first a cold process's) and its peak RSS. */
type Probe = { maxRssMb: number; runs: Run[] };

/**
 * The probe bundled as `serverless package` bundles the ingest function (serverless.yml's
 * custom.esbuild), so the code measured is the code Lambda runs: from source, through the
 * TypeScript loader, each module loaded during the run (the YAML parser, the SDK's lazy parts)
 * cost some 20-60 ms more. And run by the node Lambda runs it on (provider.runtime), whose zlib
 * computes the upload checksums the SDK computes in JavaScript on older nodes. Inside the
 * repository, so the native engines it leaves out resolve from node_modules as the layer provides
 * them in Lambda.
 */
const bundleProbe = async (): Promise<{ bundled: string; node: NodeRelease }> => {
  const { custom, provider } = parse(readFileSync(join(REPO, 'serverless.yml'), 'utf8')) as {
    custom: { esbuild: { bundle: boolean; minify: boolean; platform: 'node'; exclude: string[] } };
    provider: { runtime: string };
  };
  const major = /^nodejs(\d+)\.x$/.exec(provider.runtime)?.[1];
  if (!major)
    throw new Error(`serverless.yml's provider.runtime is not nodejs<major>.x: ${provider.runtime}`);
  const node = nodeRelease(major);
  const { bundle, minify, platform, exclude } = custom.esbuild;
  const outfile = join(REPO, 'build', 'bench', 'ingest-probe.js');
  await build({
    entryPoints: [join(__dirname, 'ingest-probe.ts')],
    outfile,
    bundle,
    minify,
    platform,
    target: `node${node.version.slice(1).split('.')[0]}`,
    external: exclude,
    logLevel: 'warning',
  });
  return { bundled: outfile, node };
};

const RUNS = 5;
/** The run of median wall time (of an odd number of runs). */
const median = (runs: readonly Run[]): Run => {
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (!middle) throw new Error('no runs');
  return middle;
};

const probe = async (
  { bundled, node }: { bundled: string; node: NodeRelease },
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<Probe> => {
  const { stdout } = await exec(node.bin, [bundled, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    maxBuffer: 2 ** 24,
    timeout: 1_800_000,
  });
  return JSON.parse(stdout.slice(stdout.lastIndexOf('{"maxRssMb"'))) as Probe;
};

/** The nth run of each probe. */
const nth = (probes: readonly Probe[], n: number): Run[] =>
  probes.map((p) => {
    const run = p.runs[n];
    if (!run) throw new Error(`a probe made ${p.runs.length} runs, not ${n + 1}`);
    return run;
  });

export const run = async ({ workDir, quick, log }: BenchContext): Promise<BenchRow[]> => {
  const rows: BenchRow[] = [];
  const limit = quick ? 'LIMIT 300000' : '';
  const csv = join(workDir, 'flights.csv');
  await runSql([
    `COPY (SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, delay, distance, origin, destination FROM read_parquet('${FLIGHTS}') ${limit}) TO '${csv}' (FORMAT csv, HEADER true)`,
  ]);
  const mb = (f: string) => statSync(f).size / 2 ** 20;
  log(`flights CSV ${mb(csv).toFixed(0)} MB`);

  const cloud = await startLocalCloud({ dataDir: join(workDir, 'cloud'), port: 0 });
  const s3 = new S3Client(localS3Config(cloud.s3.url));
  // The probe is driven directly, so the object goes to a bucket with no notification: the stack's
  // ingest function and a training run would otherwise compete for the cores.
  await s3.send(new CreateBucketCommand({ Bucket: BENCH_BUCKET }));
  /** The object's ETag, as an S3 event gives it. */
  const upload = async (file: string, key: string) => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: BENCH_BUCKET,
        Key: key,
        Body: createReadStream(file),
        ContentLength: statSync(file).size,
      }),
    );
    return (put.ETag ?? '').replace(/"/g, '');
  };
  const env = { ...cloud.env, MLPIPE_SCRATCH_DIR: workDir };
  try {
    const bundled = await bundleProbe();
    log(`probe on node ${bundled.node.version}`);
    // The specs compiled, as `serverless package` leaves them for the function to carry.
    writeCompiledSpecs(join(REPO, 'pipelines'));
    // Reference and ingest take turns, RUNS times each, and each side's median counts: one run of
    // either can be a third slower when the machine is busy. Which goes first alternates, so neither
    // always runs just after the objects' upload. Each probe runs twice in one process: first as
    // in a cold Lambda, then warm, as Lambda runs a function again in the same environment, its
    // modules loaded and its SDK clients made. Throughput is the warm figure, as for any service
    // that keeps running; the cold start is reported beside it. Each ingest is of an object of its
    // own, as an object version already ingested is not curated again.
    const references: Probe[] = [];
    const ingests: Probe[] = [];
    for (let run = 0; run < RUNS; run++) {
      const objects: string[] = [];
      for (const start of ['cold', 'warm']) {
        const key = `incoming/flights/flights-${run}-${start}.csv`;
        objects.push(key, await upload(csv, key));
      }
      const runReference = () =>
        probe(bundled, ['duckdb', csv, join(workDir, 'reference.parquet'), '2'], env);
      // As an S3 event gives them: the object's key, ETag and size.
      const runIngest = async () => {
        const one = await probe(
          bundled,
          ['ingest', BENCH_BUCKET, String(statSync(csv).size), ...objects],
          env,
        );
        const failed = one.runs.find((r) => r.status !== 'curated');
        if (failed) throw new Error(`ingest ended ${failed.status}`);
        return one;
      };
      if (run % 2 === 0) {
        references.push(await runReference());
        ingests.push(await runIngest());
      } else {
        ingests.push(await runIngest());
        references.push(await runReference());
      }
    }
    const [coldReference, warmReference] = [0, 1].map((n) => median(nth(references, n))) as [Run, Run];
    const [coldIngest, warmIngest] = [0, 1].map((n) => median(nth(ingests, n))) as [Run, Run];
    const label = `flights${quick ? ' 300k' : '-3m'} CSV, ${mb(csv).toFixed(0)} MB`;
    const ratio = warmReference.wallMs / warmIngest.wallMs;
    const ms = (runs: readonly Run[]) => runs.map((r) => Math.round(r.wallMs)).join(' ');
    rows.push({
      name: `ingest throughput ÷ DuckDB COPY to Parquet (${label})`,
      value: ratio,
      unit: '×',
      goal: '>= 0.5',
      pass: ratio >= 0.5,
      details: {
        node: bundled.node.version,
        ingestSeconds: Number((warmIngest.wallMs / 1000).toFixed(2)),
        duckdbCopySeconds: Number((warmReference.wallMs / 1000).toFixed(2)),
        ingestRunsMs: ms(nth(ingests, 1)),
        duckdbCopyRunsMs: ms(nth(references, 1)),
        rowsIn: warmIngest.rowsIn ?? 0,
        rowsPerSecond: Math.round(((warmIngest.rowsIn ?? 0) * 1000) / warmIngest.wallMs),
        ...Object.fromEntries(Object.entries(warmIngest.timings ?? {}).map(([k, v]) => [k, v])),
      },
    });
    const coldRatio = coldReference.wallMs / coldIngest.wallMs;
    rows.push({
      name: `the same, each the first run of a fresh process (a cold start)`,
      value: coldRatio,
      unit: '×',
      details: {
        ingestSeconds: Number((coldIngest.wallMs / 1000).toFixed(2)),
        duckdbCopySeconds: Number((coldReference.wallMs / 1000).toFixed(2)),
        ingestRunsMs: ms(nth(ingests, 0)),
        duckdbCopyRunsMs: ms(nth(references, 0)),
      },
    });
    const peakRssMb = Math.max(...ingests.map((p) => p.maxRssMb));
    rows.push({
      name: 'ingest peak RSS on that file',
      value: peakRssMb,
      unit: 'MB',
      goal: '<= 1536',
      pass: peakRssMb <= 1536,
      details: { duckdbCopyPeakRssMb: Math.round(Math.max(...references.map((p) => p.maxRssMb))) },
    });
    log(
      `ingest ${(warmIngest.wallMs / 1000).toFixed(2)} s warm, ${(coldIngest.wallMs / 1000).toFixed(2)} s cold; DuckDB COPY ${(warmReference.wallMs / 1000).toFixed(2)} s warm, ${(coldReference.wallMs / 1000).toFixed(2)} s cold (medians of ${RUNS}); peak RSS ${peakRssMb.toFixed(0)} MB`,
    );
    if (!quick) {
      // Written only now: the disk writing back a fresh 1 GB file slowed the runs above.
      const big = join(workDir, 'flights-x10.csv');
      await runSql([
        `COPY (SELECT strftime(date, '%Y-%m-%d %H:%M:%S') AS date, delay, distance, origin, destination FROM read_parquet('${FLIGHTS}'), range(10)) TO '${big}' (FORMAT csv, HEADER true)`,
      ]);
      log(`generated ${mb(big).toFixed(0)} MB`);
      const bigEtag = await upload(big, 'incoming/flights/flights-x10.csv');
      const large = await probe(
        bundled,
        ['ingest', BENCH_BUCKET, String(statSync(big).size), 'incoming/flights/flights-x10.csv', bigEtag],
        env,
      );
      const [bigRun] = large.runs;
      if (!bigRun) throw new Error('the probe made no run of the 1 GB file');
      rows.push({
        name: `ingest peak RSS on a generated ${(mb(big) / 1024).toFixed(2)} GB CSV (bounded memory)`,
        value: large.maxRssMb,
        unit: 'MB',
        goal: '<= 1536 and about the same as on the 106 MB file',
        pass: large.maxRssMb <= 1536,
        details: {
          rowsIn: bigRun.rowsIn ?? 0,
          seconds: Number((bigRun.wallMs / 1000).toFixed(1)),
          status: bigRun.status ?? '',
        },
      });
      log(
        `ingest of ${mb(big).toFixed(0)} MB: ${(bigRun.wallMs / 1000).toFixed(1)} s, peak RSS ${large.maxRssMb.toFixed(0)} MB`,
      );
    }
  } finally {
    s3.destroy();
    await cloud.stop();
  }
  return rows;
};
