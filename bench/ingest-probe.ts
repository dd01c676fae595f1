// Measured runs in a process of their own, so peak RSS is theirs alone (bench/ingest.bench.ts):
//   ingest <bucket> <size> <key> <etag> [<key> <etag> …]   the ingest function's core on objects
//                         of the local cloud's S3, one after another, given what an S3 event gives
//                         it, with one S3 client, as the handler keeps one between invocations
//   duckdb <csv> <parquet> <times>   the reference: a plain DuckDB COPY of the same CSV to Parquet,
//                         `times` times
// Each run's wall time is reported: the first is a cold process's, the rest a warm one's.
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { compiledSpecsFile, readCompiledSpecs } from '../core/spec/load';
import { ingestObject } from '../functions/ingest/ingest';
import { runSql } from '../functions/shared/table';

const [mode, ...args] = process.argv.slice(2);
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

const main = async () => {
  // As the handler reads them when it loads: the specs `serverless package` compiled.
  const compiledSpecs = readCompiledSpecs(compiledSpecsFile('pipelines'));
  const runs: Record<string, unknown>[] = [];
  if (mode === 'duckdb') {
    const [csv = '', parquet = '', times = '1'] = args;
    for (let run = 0; run < Number(times); run++) {
      const t = performance.now();
      await runSql([
        `COPY (SELECT * FROM read_csv('${csv}', header = true)) TO '${parquet}' (FORMAT parquet)`,
      ]);
      runs.push({ wallMs: performance.now() - t });
    }
  } else {
    const [bucket = '', size = '', ...objects] = args;
    // Made on the first run, as the handler makes its client when Lambda loads it.
    let s3: S3Client | undefined;
    let sfn: SFNClient | undefined;
    for (let at = 0; at < objects.length; at += 2) {
      const t = performance.now();
      s3 ??= new S3Client({ forcePathStyle: true });
      sfn ??= new SFNClient({});
      const outcome = await ingestObject(
        { bucket, key: objects[at] ?? '', etag: objects[at + 1] ?? '', size: Number(size) },
        {
          s3,
          sfn,
          log: quiet,
          ...(compiledSpecs && { compiledSpecs }),
          settings: {
            rawBucket: bucket,
            curatedBucket: 'mlpipe-local-curated',
            artifactsBucket: 'mlpipe-local-artifacts',
            // No training for a benchmark: a state machine that does not exist is reported, not fatal.
            trainingStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-bench-none',
            pipelinesDir: 'pipelines',
            scratchDir: process.env.MLPIPE_SCRATCH_DIR ?? '/tmp',
            maxFileBytes: 8 * 2 ** 30,
            maxLineBytes: 2 ** 20,
          },
        },
      );
      if (outcome.state === 'in-progress') throw new Error(`another attempt holds ${outcome.ingestId}`);
      const { rowsIn, rowsCurated, rowsQuarantined, status, timings } = outcome.report;
      runs.push({ wallMs: performance.now() - t, rowsIn, rowsCurated, rowsQuarantined, status, timings });
    }
  }
  process.stdout.write(`${JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024, runs })}\n`, () =>
    process.exit(0),
  );
};

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
