import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CliCommand, UsageError } from '../command';
import { parseArgs } from '../options';
import { runPipeline } from '../run/pipeline-run';
import { summarizeRun } from '../run/summary';

/** The public dataset each shipped pipeline runs on when no file is given (vega-datasets). */
export const DEMO_DATA: Readonly<Record<string, string>> = {
  penguins: 'penguins.json',
  cars: 'cars.json',
  flights: 'flights-3m.parquet',
  movies: 'movies.json',
};

const datasets = join(__dirname, '..', '..', 'node_modules', 'vega-datasets', 'data');

export const command: CliCommand = {
  name: 'run',
  summary: 'Run a pipeline end to end in a fresh local cloud: drop its data, follow ingest → train → deploy',
  usage: `mlpipe run <pipeline> [--file PATH] [--data-dir DIR] [--keep] [--port N] [--json]   (pipelines with demo data: ${Object.keys(DEMO_DATA).join(', ')})`,
  async run(args, io) {
    const { flags, positional } = parseArgs(args, {
      file: 'string',
      'data-dir': 'string',
      keep: 'boolean',
      port: 'string',
      json: 'boolean',
    });
    const [pipeline, ...extra] = positional;
    if (!pipeline || extra.length > 0) throw new UsageError('expected one pipeline name');
    const demo = DEMO_DATA[pipeline];
    const file = flags.file ? resolve(flags.file) : demo ? join(datasets, demo) : undefined;
    if (!file) throw new UsageError(`pipeline ${pipeline} has no demo data; pass --file PATH`);
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
    const dataDir = resolve(flags['data-dir'] ?? '.mlpipe/run');
    // A fresh cloud by default: the same file dropped twice is (rightly) ingested once.
    if (!flags.keep) rmSync(dataDir, { recursive: true, force: true });
    const port = flags.port === undefined ? 0 : Number(flags.port);
    if (!Number.isInteger(port) || port < 0) throw new UsageError('--port expects a port number');
    // With --json, progress goes to stderr and stdout carries only the summary, for scripts.
    const result = await runPipeline({
      pipeline,
      file,
      dataDir,
      port,
      stage: 'local',
      out: flags.json ? io.err : io.out,
    });
    const summary = summarizeRun(pipeline, result);
    if (flags.json) io.out(JSON.stringify(summary, null, 2));
    return summary.status === 'failed' ? 1 : 0;
  },
};
