import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { main } from '../../../cli/main';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import { localClientConfig } from '../../../local/types';

const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:mlpipe-local-training';

const cli = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
};

describe('mlpipe local status and reset', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-local-cli-'));
  let cloud: LocalCloud | undefined;
  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0 });
  });
  afterAll(async () => {
    await cloud?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists every execution with its status and why it failed, and follows one state by state', async () => {
    const sfn = new SFNClient(localClientConfig(cloud?.sfn.url ?? ''));
    // A run whose curated data is not there: the first state fails and the run is announced failed.
    const input = {
      pipeline: 'penguins',
      ingestId: 'penguins-missing',
      curated: { bucket: 'mlpipe-local-curated', prefix: 'curated/penguins/ingest=penguins-missing/' },
      report: { bucket: 'mlpipe-local-artifacts', key: 'reports/ingest/penguins/penguins-missing.json' },
    };
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: MACHINE,
        name: 'broken-input',
        input: JSON.stringify(input),
      }),
    );
    sfn.destroy();
    const followed = await cli(['local', 'status', 'broken-input', '--data-dir', dataDir]);
    expect(followed.code).toBe(1);
    expect(followed.out[0]).toBe('mlpipe-local-training:broken-input');
    expect(followed.out).toEqual(expect.arrayContaining([expect.stringMatching(/^ {2}✗ PlanFeatures /)]));
    expect(followed.out).toEqual(expect.arrayContaining([expect.stringMatching(/^ {2}✓ NotifyFailed /)]));
    expect(followed.out.at(-1)).toMatch(/^FAILED — TrainingPipelineFailed: /);

    const listed = await cli(['local', 'status', '--data-dir', dataDir]);
    expect(listed.code).toBe(0);
    expect(listed.out[0]).toBe(`local cloud on ${dataDir} (stage local, pid ${process.pid}): 1 execution`);
    expect(listed.out[1]).toMatch(
      /^ {2}FAILED +\S+ \S+ \d+\.\d s {2}mlpipe-local-training:broken-input {2}TrainingPipelineFailed: /,
    );
  });

  it('refuses to reset a cloud that is running, or a folder that is not a cloud’s', async () => {
    const refused = await cli(['local', 'reset', '--data-dir', dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.err[0]).toMatch(/a local cloud is running on .* stop it first/);
    expect(existsSync(join(dataDir, 'endpoints.env'))).toBe(true);
    const other = mkdtempSync(join(tmpdir(), 'mlpipe-not-a-cloud-'));
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    const untouched = await cli(['local', 'reset', '--data-dir', other]);
    expect(untouched.code).toBe(2);
    expect(untouched.err[0]).toMatch(/is not a local cloud's data folder .*; not touched/);
    expect(existsSync(join(other, 'notes.txt'))).toBe(true);
    rmSync(other, { recursive: true, force: true });
  });

  it('wipes a stopped cloud’s data, after which status says none is running', async () => {
    await cloud?.stop();
    cloud = undefined;
    const wiped = await cli(['local', 'reset', '--data-dir', dataDir]);
    expect(wiped).toMatchObject({ code: 0, out: [expect.stringContaining(`reset: removed ${dataDir}`)] });
    expect(existsSync(dataDir)).toBe(false);
    const none = await cli(['local', 'status', '--data-dir', dataDir]);
    expect(none.code).toBe(1);
    expect(none.err[0]).toContain(`no local cloud is running on ${dataDir}`);
    mkdirSync(dataDir);
  });
});

describe('mlpipe local in the foreground', () => {
  it('lists every endpoint in one column, writes endpoints.env, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-local-serve-'));
    const out: string[] = [];
    let up: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      up = resolve;
    });
    const served = main(['local', '--data-dir', dataDir, '--port', '0'], {
      out: (l) => {
        out.push(l);
        if (l.startsWith('source ')) up();
      },
      err: (l) => out.push(l),
    });
    try {
      await ready;
      const endpoints = out.filter((l) => /^ {2}[A-Z0-9]+ +http:\/\/127\.0\.0\.1:\d+$/.test(l));
      expect(endpoints.map((l) => l.trim().split(/ +/)[0])).toEqual(
        expect.arrayContaining(['S3', 'KINESIS', 'SAGEMAKER', 'SFN', 'EVENTBRIDGE']),
      );
      // Every URL starts in the same column, whatever the service's name.
      expect(new Set(endpoints.map((l) => l.indexOf('http://'))).size).toBe(1);
      expect(existsSync(join(dataDir, 'endpoints.env'))).toBe(true);
    } finally {
      process.emit('SIGTERM');
      expect(await served).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(out.at(-1)).toBe('stopping…');
  });
});
