import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runningCloud } from '../../local/presence';
import { DEFAULT_LOCAL_DATA_DIR } from '../aws';
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
  summary:
    'Run a pipeline end to end in the local cloud (the one `mlpipe local` runs, else a fresh one): drop its data, follow ingest → train → deploy',
  usage: `mlpipe run <pipeline> [FILE | --file FILE] [--data-dir DIR] [--keep] [--port N] [--json]   (pipelines with demo data: ${Object.keys(DEMO_DATA).join(', ')}; a cloud running on DIR, default ${DEFAULT_LOCAL_DATA_DIR}, is used as it is)`,
  async run(args, io) {
    const { flags, positional } = parseArgs(args, {
      file: 'string',
      'data-dir': 'string',
      keep: 'boolean',
      port: 'string',
      json: 'boolean',
    });
    const [pipeline, named, ...extra] = positional;
    if (!pipeline || extra.length > 0) throw new UsageError('expected a pipeline name and at most one file');
    if (named && flags.file) throw new UsageError('give the file once: as an argument or with --file');
    const given = named ?? flags.file;
    const demo = DEMO_DATA[pipeline];
    const file = given ? resolve(given) : demo ? join(datasets, demo) : undefined;
    if (!file) throw new UsageError(`pipeline ${pipeline} has no demo data; give a FILE to drop`);
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
    // A cloud already running (`mlpipe local`) is used as it is, its data kept: that is where a user
    // iterates. Otherwise a fresh one, because the same file dropped twice is (rightly) ingested once.
    const attach = await runningCloud(resolve(flags['data-dir'] ?? DEFAULT_LOCAL_DATA_DIR));
    const dataDir = resolve(flags['data-dir'] ?? (attach ? DEFAULT_LOCAL_DATA_DIR : '.mlpipe/run'));
    if (!attach && !flags.keep) rmSync(dataDir, { recursive: true, force: true });
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
      ...(attach ? { attach } : {}),
    });
    const summary = summarizeRun(pipeline, result);
    if (flags.json) io.out(JSON.stringify(summary, null, 2));
    return summary.status === 'failed' ? 1 : 0;
  },
};
