// One measured run in a process of its own, so its peak RSS is its own (bench/ingest.bench.ts):
//   ingest <bucket> <key> <etag> <size>   the ingest function's core on an object of the local
//                                         cloud's S3, given what an S3 event gives it
//   duckdb <csv> <parquet>         the reference: a plain DuckDB COPY of the same CSV to Parquet
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { compiledSpecsFile, readCompiledSpecs } from '../core/spec/load';
import { ingestObject } from '../functions/ingest/ingest';
import { runSql } from '../functions/shared/table';

const [mode, a = '', b = '', c = '', d = ''] = process.argv.slice(2);
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

const main = async () => {
  // As the handler reads them when it loads: the specs `serverless package` compiled.
  const compiledSpecs = readCompiledSpecs(compiledSpecsFile('pipelines'));
  const t = performance.now();
  let result: Record<string, unknown> = {};
  if (mode === 'duckdb') {
    await runSql([`COPY (SELECT * FROM read_csv('${a}', header = true)) TO '${b}' (FORMAT parquet)`]);
  } else {
    const s3 = new S3Client({ forcePathStyle: true });
    const outcome = await ingestObject(
      { bucket: a, key: b, etag: c, ...(d && { size: Number(d) }) },
      {
        s3,
        sfn: new SFNClient({}),
        log: quiet,
        ...(compiledSpecs && { compiledSpecs }),
        settings: {
          rawBucket: a,
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
    result = { rowsIn, rowsCurated, rowsQuarantined, status, timings };
  }
  const wallMs = performance.now() - t;
  process.stdout.write(
    `${JSON.stringify({ wallMs, maxRssMb: process.resourceUsage().maxRSS / 1024, ...result })}\n`,
    () => process.exit(0),
  );
};

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
