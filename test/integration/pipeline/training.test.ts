import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListModelPackagesCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { followExecution } from '../../../cli/run/follow';
import { CANARY_METRICS, canaryDimensions, type DeploymentRecord } from '../../../core/deployment';
import { type IngestReport, ingestId, reportKey } from '../../../core/ingest';
import type { RunState } from '../../../core/pipeline';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import { localClientConfig, localS3Config } from '../../../local/types';
import { datasetPath, jsonDataset } from '../../support/datasets';

const RAW = 'mlpipe-local-raw';
const ARTIFACTS = 'mlpipe-local-artifacts';
const MACHINE = 'arn:aws:states:us-east-1:000000000000:execution:mlpipe-local-training';

/** A deterministic shuffle, so the test data is the same on every run. */
const shuffled = <T>(items: readonly T[], seed: number): T[] => {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

describe('the training pipeline, driven by nothing but files dropped into the local cloud', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-pipeline-'));
  let cloud: LocalCloud;
  let s3: S3Client;
  let sfn: SFNClient;
  let sagemaker: SageMakerClient;
  let cloudwatch: CloudWatchClient;
  const versions: string[] = [];

  beforeAll(async () => {
    cloud = await startLocalCloud({ dataDir, port: 0 });
    s3 = new S3Client(localS3Config(cloud.s3.url));
    sfn = new SFNClient(localClientConfig(cloud.sfn.url));
    sagemaker = new SageMakerClient(localClientConfig(cloud.sagemaker.url));
    cloudwatch = new CloudWatchClient(localClientConfig(cloud.cloudwatch.url));
  });
  afterAll(async () => {
    for (const c of [s3, sfn, sagemaker, cloudwatch]) c.destroy();
    await cloud.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const json = async <T>(bucket: string, key: string): Promise<T> =>
    JSON.parse(
      (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString()) ??
        '',
    ) as T;

  /** Drops a file, waits for its execution to end, and returns what a user would look at. */
  const dropAndFollow = async (name: string, body: string | Buffer, whileRunning?: () => Promise<void>) => {
    const key = `incoming/penguins/${name}`;
    const put = await s3.send(new PutObjectCommand({ Bucket: RAW, Key: key, Body: Buffer.from(body) }));
    await cloud.settle();
    const id = ingestId('penguins', { bucket: RAW, key, etag: (put.ETag ?? '').replace(/"/g, '') });
    const report = await json<IngestReport>(ARTIFACTS, reportKey('penguins', id));
    await whileRunning?.();
    const execution = await followExecution(sfn, `${MACHINE}:${id}`, { pollMs: 200, onProgress: () => {} });
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: `${MACHINE}:${id}`, maxResults: 1000 }),
    );
    const states = (history.events ?? [])
      .filter((e) => e.type?.endsWith('StateEntered'))
      .map((e) => e.stateEnteredEventDetails?.name);
    const record = await json<DeploymentRecord>(ARTIFACTS, 'deployments/penguins/live.json').catch(
      () => undefined,
    );
    return {
      report,
      execution,
      states,
      events: history.events ?? [],
      record,
      output: execution.output ? (JSON.parse(execution.output) as RunState) : undefined,
    };
  };

  const packages = async () =>
    (
      await sagemaker.send(
        new ListModelPackagesCommand({
          ModelPackageGroupName: 'mlpipe-local-penguins',
          SortOrder: 'Ascending',
        }),
      )
    ).ModelPackageSummaryList ?? [];

  it('deploys the first model of penguins as champion, registered Approved, and announces it', async () => {
    const run = await dropAndFollow('penguins.json', readFileSync(datasetPath('penguins.json')));
    expect(run.report.status).toBe('curated');
    expect(run.execution.status).toBe('SUCCEEDED');
    const evaluated = run.output?.evaluated?.result;
    expect(evaluated?.metrics.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(evaluated?.rows).toBe(run.report.rowsCurated.test);
    expect(evaluated?.champion).toBeNull();
    expect(run.states).toEqual(
      expect.arrayContaining(['PlanFeatures', 'Train', 'Evaluate', 'Register', 'Deploy', 'NotifyDeployed']),
    );
    expect(run.states).not.toContain('CanaryWindow');
    // The history reads as AWS writes it: each feature query in an iteration of the Map, and the
    // Map exited before Train is entered.
    const at = (type: string, name?: string) =>
      run.events.findIndex(
        (e) =>
          e.type === type &&
          (name === undefined ||
            e.stateEnteredEventDetails?.name === name ||
            e.stateExitedEventDetails?.name === name),
      );
    const iterations = run.events.filter((e) => e.type === 'MapIterationStarted');
    expect(iterations.length).toBe(run.states.filter((s) => s === 'RunFeatureQuery').length);
    expect(iterations.map((e) => e.mapIterationStartedEventDetails?.name)).toEqual(
      iterations.map(() => 'ExtractFeatures'),
    );
    expect(at('MapStateExited', 'ExtractFeatures')).toBeLessThan(at('TaskStateEntered', 'Train'));
    expect(at('TaskStateExited', 'Train')).toBeLessThan(at('TaskStateEntered', 'Evaluate'));
    expect(run.record?.champion?.version).toBe(evaluated?.version);
    expect(run.record?.challenger).toBeNull();
    versions.push(evaluated?.version as string);

    const [registered] = await packages();
    expect(registered?.ModelApprovalStatus).toBe('Approved');
    const evaluation = await json<{ candidate: { metrics: Record<string, number> } }>(
      ARTIFACTS,
      `evaluations/penguins/${evaluated?.version}.json`,
    );
    expect(evaluation.candidate.metrics.accuracy).toBe(evaluated?.metrics.accuracy);

    const message = cloud.sns.messages().at(-1);
    expect(message?.subject).toBe(`mlpipe penguins: deployed (${evaluated?.version})`);
    expect(JSON.parse(message?.message ?? '{}')).toMatchObject({
      outcome: 'deployed',
      modelVersion: evaluated?.version,
    });
    const event = cloud.eventbridge.events().at(-1);
    expect(event).toMatchObject({ source: 'mlpipe.training', 'detail-type': 'Training Run Deployed' });
  });

  it('starts no second run when the same file arrives again (a repeated S3 event)', async () => {
    const executions = async () =>
      (
        await sfn.send(
          new ListExecutionsCommand({ stateMachineArn: MACHINE.replace(':execution:', ':stateMachine:') }),
        )
      ).executions ?? [];
    const before = await executions();
    const again = await dropAndFollow('penguins.json', readFileSync(datasetPath('penguins.json')));
    expect(again.execution.executionArn).toBe(before.at(-1)?.executionArn);
    expect(await executions()).toHaveLength(before.length);
    expect(again.record?.champion?.version).toBe(versions[0]);
  });

  it('puts the next model on canary beside the champion and promotes it when its alarms stay quiet', async () => {
    const rows = shuffled(jsonDataset('penguins.json'), 7);
    const run = await dropAndFollow('reordered.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
    expect(run.execution.status).toBe('SUCCEEDED');
    const evaluated = run.output?.evaluated?.result;
    expect(evaluated?.champion?.version).toBe(versions[0]);
    expect(run.states).toEqual(expect.arrayContaining(['CanaryWindow', 'JudgeCanary', 'NotifyDeployed']));
    expect(run.output?.deployed?.result).toMatchObject({ canary: true, champion: versions[0], weight: 0.1 });
    expect(run.output?.judged?.result.promoted).toBe(true);
    expect(run.record?.champion?.version).toBe(evaluated?.version);
    expect(run.record?.challenger).toBeNull();
    versions.push(evaluated?.version as string);
  });

  it('rolls a challenger back when its own error-rate alarm fires during the canary window', async () => {
    const rows = shuffled(jsonDataset('penguins.json'), 11);
    // The challenger fails half of what it scores, as the inference function would report it.
    const failing = async () => {
      await cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: CANARY_METRICS.namespace,
          MetricData: [
            {
              MetricName: CANARY_METRICS.errorRate,
              Dimensions: canaryDimensions('penguins', 'challenger').map((d) => ({ ...d })),
              Value: 0.5,
            },
          ],
        }),
      );
    };
    const run = await dropAndFollow(
      'canary-fails.jsonl',
      rows.map((r) => JSON.stringify(r)).join('\n'),
      failing,
    );
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.states).toContain('NotifyRolledBack');
    expect(run.output?.judged?.result).toMatchObject({
      promoted: false,
      alarms: ['mlpipe-local-penguins-challenger-errors'],
    });
    expect(run.record?.champion?.version).toBe(versions[1]);
    expect(run.record?.challenger).toBeNull();
    expect(JSON.parse(cloud.sns.messages().at(-1)?.message ?? '{}')).toMatchObject({
      outcome: 'rolled-back',
    });
  });

  it('registers a model the gate refuses as Rejected, with the reason, and never deploys it', async () => {
    const rows = jsonDataset('penguins.json');
    const labels = shuffled(
      rows.map((r) => r.Species),
      3,
    );
    const noise = rows.map((r, i) => ({ ...r, Species: labels[i] }));
    const run = await dropAndFollow('noise.json', JSON.stringify(noise));
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.states).toEqual(expect.arrayContaining(['RegisterRejected', 'NotifyRejected']));
    expect(run.states).not.toContain('Deploy');
    expect(run.output?.evaluated?.result.gate.passed).toBe(false);
    expect(run.output?.evaluated?.result.gate.reasons.join(' ')).toMatch(
      /accuracy .* is below the minimum 0.9/,
    );
    expect(run.record?.champion?.version).toBe(versions[1]);
    expect((await packages()).at(-1)?.ModelApprovalStatus).toBe('Rejected');
  });

  it('ends a run whose training fails as failed, and says why', async () => {
    const adelie = jsonDataset('penguins.json').filter((r) => r.Species === 'Adelie');
    const run = await dropAndFollow('adelie.json', JSON.stringify(adelie));
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error).toBe('TrainingPipelineFailed');
    expect(run.states).toContain('NotifyFailed');
    const notification = JSON.parse(cloud.sns.messages().at(-1)?.message ?? '{}') as {
      outcome: string;
      reason: string;
    };
    expect(notification.outcome).toBe('failed');
    expect(notification.reason).toMatch(/single class/);
    expect(run.record?.champion?.version).toBe(versions[1]);
  });
});
