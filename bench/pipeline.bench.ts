import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RunSummary } from '../cli/run/summary';
import type { BenchContext, BenchRow } from './types';

/**
 * The main job end to end on this machine, as a user runs it: `mlpipe run <pipeline> --json` starts
 * a fresh local cloud, drops the public data into S3 and follows ingest → features → train →
 * evaluate → gate → register → deploy, then streams a few events through the deployed model. Wall
 * time is the whole command; the per-state times come from its progress lines. Issue 6 asks for
 * penguins (344 rows) and flights-3m (3 M rows); there is no reference run to compare with, so the
 * figures are reported without a goal.
 */
const REPO = join(__dirname, '..');
const exec = promisify(execFile);

const runPipeline = async (pipeline: string, dataDir: string) => {
  const started = performance.now();
  const { stdout, stderr } = await exec(
    process.execPath,
    [join(REPO, 'bin/mlpipe.js'), 'run', pipeline, '--json', '--data-dir', dataDir],
    {
      cwd: REPO,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      maxBuffer: 2 ** 26,
      timeout: 3_600_000,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const summary = JSON.parse(stdout) as RunSummary;
  // Progress lines read "  ✓ Train 41.2 s" (cli/run/follow).
  const states = Object.fromEntries(
    [...stderr.matchAll(/^\s*✓ (\w+) ([\d.]+) s(?: —.*)?$/gm)].map((m) => [`${m[1]}Seconds`, Number(m[2])]),
  );
  const execution = /Execution succeeded in ([\d.]+) s/.exec(stderr);
  return { seconds, summary, states, executionSeconds: execution ? Number(execution[1]) : Number.NaN };
};

export const run = async ({ workDir, quick, log }: BenchContext): Promise<BenchRow[]> => {
  const rows: BenchRow[] = [];
  for (const pipeline of quick ? ['penguins'] : ['penguins', 'flights']) {
    const { seconds, summary, states, executionSeconds } = await runPipeline(
      pipeline,
      join(workDir, pipeline),
    );
    if (summary.status !== 'deployed')
      throw new Error(`${pipeline} ended ${summary.status}: ${summary.reason}`);
    rows.push({
      name: `local end to end: \`mlpipe run ${pipeline}\` (${summary.ingest.rowsIn.toLocaleString('en')} rows), drop to deployed model and streamed predictions`,
      value: seconds,
      unit: 's',
      details: {
        executionSeconds,
        ...states,
        rowsIn: summary.ingest.rowsIn,
        rowsQuarantined: summary.ingest.rowsQuarantined,
        modelVersion: summary.modelVersion ?? '',
        ...Object.fromEntries(
          Object.entries(summary.metrics ?? {}).map(([k, v]) => [`test_${k}`, Number(v)]),
        ),
      },
    });
    log(`${pipeline}: ${seconds.toFixed(1)} s in all, execution ${executionSeconds} s`);
  }
  return rows;
};
