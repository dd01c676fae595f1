import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../cli/main';
import type { RunSummary } from '../../../cli/run/summary';
import { startLocalCloud } from '../../../local/cloud';
import { runningCloud } from '../../../local/presence';
import { datasetPath } from '../../support/datasets';

/** The CLI run as a user runs it, with what it printed to stdout and stderr, line by line. */
const runMain = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
};

describe('mlpipe run, the main job', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-run-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs penguins end to end and prints, with --json, one summary a script can read', async () => {
    const { code, out, err } = await runMain(['run', 'penguins', '--json', '--data-dir', dataDir]);
    expect(code).toBe(0);
    const summary = JSON.parse(out.join('\n')) as RunSummary;
    expect(summary).toMatchObject({
      status: 'deployed',
      pipeline: 'penguins',
      champion: null,
      ingest: { status: 'curated', rowsIn: 344, rowsQuarantined: 0 },
      serving: { champion: summary.modelVersion, challenger: null },
    });
    expect(summary.metrics?.accuracy).toBeGreaterThan(0.9);
    expect(summary.modelPackageArn).toMatch(/model-package\/mlpipe-local-penguins\/1$/);
    // Progress went to stderr, with the predictions streamed back from the inference function.
    expect(err.join('\n')).toContain('from the predictions stream');
    expect(err.filter((l) => /→ (Adelie|Chinstrap|Gentoo) \(/.test(l))).toHaveLength(5);
  });

  it('says why it trains nothing on a file it curates whose test split is empty, and waits for no training run', async () => {
    const file = join(dataDir, 'two-days.csv');
    const rows = Array.from({ length: 10 }, (_, i) => `2001-01-0${i < 5 ? 1 : 2} 00:00:00,${i},100,SFO,LAX`);
    writeFileSync(file, `date,delay,distance,origin,destination\n${rows.join('\n')}\n`);
    const { code, out, err } = await runMain([
      'run',
      'flights',
      file,
      '--json',
      '--data-dir',
      join(dataDir, 'two-days'),
    ]);
    expect(code).toBe(0);
    const summary = JSON.parse(out.join('\n')) as RunSummary;
    expect(summary).toMatchObject({
      status: 'rejected',
      modelVersion: null,
      ingest: { status: 'curated', rowsIn: 10, rowsCurated: { train: 10, validation: 0, test: 0 } },
    });
    expect(summary.reason).toMatch(/^no training: the test split is empty: split by time/);
    expect(err).toContain(`No training: ${summary.reason?.replace(/^no training: /, '')}`);
    expect(err.join('\n')).not.toContain('Training pipeline');
  });

  it('uses the local cloud another process runs on the data folder, takes the file as an argument, and leaves that cloud running', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'mlpipe-run-shared-'));
    const cloud = await startLocalCloud({ dataDir: shared, port: 0 });
    try {
      const { code, out, err } = await runMain([
        'run',
        'cars',
        datasetPath('cars.json'),
        '--json',
        '--data-dir',
        shared,
      ]);
      expect(code).toBe(0);
      expect(err[0]).toContain(
        `Using the local cloud already running on ${shared} (stage local, pid ${process.pid})`,
      );
      const summary = JSON.parse(out.join('\n')) as RunSummary;
      expect(summary).toMatchObject({ status: 'deployed', pipeline: 'cars', ingest: { rowsIn: 406 } });
      expect(err.filter((l) => / → \S+ \(mlpipe-local-/.test(l))).toHaveLength(5);
      expect((await runningCloud(shared))?.endpoints.S3).toBe(cloud.s3.url);
    } finally {
      await cloud.stop();
    }
    expect(existsSync(join(shared, 'cloud.json'))).toBe(false);
    expect(await runningCloud(shared)).toBeUndefined();
    rmSync(shared, { recursive: true, force: true });
  });
});
