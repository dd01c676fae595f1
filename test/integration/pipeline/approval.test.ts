import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeModelPackageCommand,
  ListModelPackagesCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { command as approve } from '../../../cli/commands/approve';
import { command as reject } from '../../../cli/commands/reject';
import { main } from '../../../cli/main';
import { followExecution } from '../../../cli/run/follow';
import type { RunSummary } from '../../../cli/run/summary';
import type { DeploymentRecord } from '../../../core/deployment';
import { ingestId } from '../../../core/ingest';
import type { RunState } from '../../../core/pipeline';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import { localClientConfig, localS3Config } from '../../../local/types';
import { datasetPath, jsonDataset } from '../../support/datasets';

// The prod stage's own parameters (serverless.yml): approvalRequired true, its own resource names.
const RAW = 'mlpipe-prod-raw';
const ARTIFACTS = 'mlpipe-prod-artifacts';
const MACHINE = 'arn:aws:states:us-east-1:000000000000:execution:mlpipe-prod-training';
const GROUP = 'mlpipe-prod-penguins';

describe('a stage that requires approval (prod), run in the local cloud', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-approval-'));
  let cloud: LocalCloud;
  let s3: S3Client;
  let sfn: SFNClient;
  let sagemaker: SageMakerClient;
  let champion: string | undefined;

  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0, stage: 'prod' });
    s3 = new S3Client(localS3Config(cloud.s3.url));
    sfn = new SFNClient(localClientConfig(cloud.sfn.url));
    sagemaker = new SageMakerClient(localClientConfig(cloud.sagemaker.url));
  });
  afterAll(async () => {
    for (const c of [s3, sfn, sagemaker]) c.destroy();
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const liveRecord = async (): Promise<DeploymentRecord | undefined> => {
    const got = await s3
      .send(new GetObjectCommand({ Bucket: ARTIFACTS, Key: 'deployments/penguins/live.json' }))
      .catch(() => undefined);
    const text = await got?.Body?.transformToString();
    return text ? (JSON.parse(text) as DeploymentRecord) : undefined;
  };

  const lastPackage = async () => {
    const list = await sagemaker.send(
      new ListModelPackagesCommand({ ModelPackageGroupName: GROUP, SortOrder: 'Ascending' }),
    );
    const arn = list.ModelPackageSummaryList?.at(-1)?.ModelPackageArn;
    return sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
  };

  const statesOf = async (arn: string) =>
    ((await sfn.send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000 }))).events ?? [])
      .filter((e) => e.type?.endsWith('StateEntered'))
      .map((e) => e.stateEnteredEventDetails?.name);

  /** Drops a file and follows its execution until it waits for a person; returns its name and ARN. */
  const dropUntilApproval = async (name: string, body: string | Buffer) => {
    const key = `incoming/penguins/${name}`;
    const put = await s3.send(new PutObjectCommand({ Bucket: RAW, Key: key, Body: Buffer.from(body) }));
    await cloud.settle();
    const id = ingestId('penguins', { bucket: RAW, key, etag: (put.ETag ?? '').replace(/"/g, '') });
    const arn = `${MACHINE}:${id}`;
    const paused = await followExecution(sfn, arn, {
      pollMs: 200,
      timeoutMs: 120_000,
      pauseAt: 'AwaitApproval',
      onProgress: () => {},
    });
    return { id, arn, paused };
  };

  /** Runs `mlpipe approve|reject … --stage prod --data-dir DIR` as a reviewer would. */
  const review = async (cli: typeof approve, args: string[]) => {
    const lines: string[] = [];
    const code = await cli.run([...args, '--stage', 'prod', '--data-dir', dataDir, '--reviewer', 'ana'], {
      out: (line) => lines.push(line),
      err: (line) => lines.push(line),
    });
    return { code, lines };
  };

  const finish = async (arn: string) => {
    const done = await followExecution(sfn, arn, { pollMs: 200, timeoutMs: 120_000, onProgress: () => {} });
    return { done, output: JSON.parse(done.output ?? '{}') as RunState, states: await statesOf(arn) };
  };

  it('holds a model that passed the gate as PendingManualApproval, serves nothing yet, and says who must act', async () => {
    const { id, arn, paused } = await dropUntilApproval(
      'penguins.json',
      readFileSync(datasetPath('penguins.json')),
    );
    expect(paused.status).toBe('RUNNING');
    expect(await statesOf(arn)).toEqual(expect.arrayContaining(['Gate', 'Register', 'AwaitApproval']));
    expect((await lastPackage()).ModelApprovalStatus).toBe('PendingManualApproval');
    expect(await liveRecord()).toBeUndefined();
    const message = JSON.parse(cloud.sns.messages().at(-1)?.message ?? '{}') as Record<string, unknown>;
    expect(message).toMatchObject({ outcome: 'waiting-for-approval' });
    expect(String(message.reason)).toContain(`mlpipe approve ${arn}`);
    expect(cloud.eventbridge.events().at(-1)).toMatchObject({ source: 'mlpipe.training' });

    const answered = await review(approve, [id, '--comment', 'metrics look right']);
    expect(answered).toEqual({ code: 0, lines: [`approved: ${arn}`] });
    const run = await finish(arn);
    expect(run.done.status).toBe('SUCCEEDED');
    expect(run.states).toEqual(expect.arrayContaining(['RecordApproval', 'Deploy', 'NotifyDeployed']));
    const registered = await lastPackage();
    expect(registered.ModelApprovalStatus).toBe('Approved');
    expect(registered.ApprovalDescription).toBe('approved by ana: metrics look right');
    champion = run.output.evaluated?.result.version;
    expect((await liveRecord())?.champion?.version).toBe(champion);
    expect(JSON.parse(cloud.sns.messages().at(-1)?.message ?? '{}')).toMatchObject({ outcome: 'deployed' });
  });

  it('records a reviewer’s rejection with the reason, never deploys the model and keeps the champion', async () => {
    const rows = jsonDataset('penguins.json').reverse();
    const { arn, paused } = await dropUntilApproval(
      'reversed.jsonl',
      rows.map((r) => JSON.stringify(r)).join('\n'),
    );
    expect(paused.status).toBe('RUNNING');
    const answered = await review(reject, [arn, '--reason', 'trained on a partial week']);
    expect(answered.code).toBe(0);
    const run = await finish(arn);
    expect(run.done.status).toBe('SUCCEEDED');
    expect(run.states).toEqual(expect.arrayContaining(['RecordRejection', 'NotifyRejected']));
    expect(run.states).not.toContain('Deploy');
    const registered = await lastPackage();
    expect(registered.ModelApprovalStatus).toBe('Rejected');
    expect(registered.ApprovalDescription).toBe('rejected by a reviewer: ana: trained on a partial week');
    expect((await liveRecord())?.champion?.version).toBe(champion);
    expect(JSON.parse(cloud.sns.messages().at(-1)?.message ?? '{}')).toMatchObject({
      outcome: 'rejected',
      reason: 'rejected by a reviewer: ana: trained on a partial week',
    });
  });

  it('ends `mlpipe run --json` on this cloud with status waiting-for-approval and what to type next', async () => {
    const file = join(dataDir, 'penguins-sorted.json');
    const rows = jsonDataset('penguins.json');
    writeFileSync(
      file,
      JSON.stringify([...rows].sort((a, b) => String(a.Island).localeCompare(String(b.Island)))),
    );
    const out: string[] = [];
    const code = await main(['run', 'penguins', file, '--json', '--data-dir', dataDir], {
      out: (l) => out.push(l),
      err: () => {},
    });
    expect(code).toBe(0);
    const summary = JSON.parse(out.join('\n')) as RunSummary;
    expect(summary).toMatchObject({
      status: 'waiting-for-approval',
      pipeline: 'penguins',
      champion: { version: champion },
      serving: { champion, challenger: null },
    });
    expect(summary.modelVersion).toMatch(/^mlpipe-prod-/);
    expect(summary.reason).toContain(`mlpipe approve ${summary.execution}`);
    expect((await lastPackage()).ModelApprovalStatus).toBe('PendingManualApproval');
  });

  it('refuses to answer an execution that is not waiting, naming it', async () => {
    await expect(review(approve, [`${MACHINE}:no-such-run`])).rejects.toThrow(/no-such-run/);
  });
});
