import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { deploymentRecordKey, parseDeploymentRecord } from '../../../core/deployment';
import type { RunState } from '../../../core/pipeline';
import { type DeployEvent, deployModel } from '../../../functions/deploy/deploy';
import { getText } from '../../../functions/shared/s3';
import { type RunningS3, startS3 } from '../../../local/s3';
import { localClientConfig, localS3Config } from '../../../local/types';

const BUCKET = 'mlpipe-local-artifacts';
const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-deploy-'));
let s3Service: RunningS3;
let s3: S3Client;
const cloudwatch = new CloudWatchClient(localClientConfig('http://127.0.0.1:9'));

beforeAll(async () => {
  s3Service = await startS3({ port: 0, dataDir });
  s3 = new S3Client(localS3Config(s3Service.url));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});
afterAll(async () => {
  s3.destroy();
  cloudwatch.destroy();
  await s3Service.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The deploy step's event for a candidate of penguins that passed its gate. */
const deployEvent = (version: string): DeployEvent => {
  const run: RunState = {
    pipeline: 'penguins',
    ingestId: `ingest-${version}`,
    curated: { bucket: 'curated', prefix: `curated/penguins/${version}/` },
    report: { bucket: BUCKET, key: `reports/${version}.json` },
    evaluated: {
      result: {
        version,
        model: { bucket: BUCKET, key: `models/penguins/${version}/output/model.tar.gz` },
        evaluation: { bucket: BUCKET, key: `evaluations/penguins/${version}.json` },
        metrics: { accuracy: 0.97 },
        champion: null,
        gate: { passed: true, reasons: [], comparedOn: 'accuracy' },
        rows: 49,
      },
    },
  };
  return { action: 'deploy', execution: `arn:aws:states:::execution:training:${version}`, run };
};

const settings = {
  artifactsBucket: BUCKET,
  pipelinesDir: join(__dirname, '../../../pipelines'),
  canaryWeight: 0.1,
  canaryWindow: '10m',
  canaryWindowMax: '10m',
  alarmPrefix: 'mlpipe-local',
};

describe('the deploy step', () => {
  it('loses no deployment when two executions deploy at once: one is champion, the other on canary beside it', async () => {
    const [a, b] = await Promise.all(
      ['penguins-a', 'penguins-b'].map((v) => deployModel(deployEvent(v), { s3, cloudwatch, settings })),
    );
    const text = await getText(s3, { bucket: BUCKET, key: deploymentRecordKey('penguins') });
    const record = parseDeploymentRecord(text ?? '', 'live.json');
    const champion = record.champion?.version;
    const challenger = record.challenger?.version;
    expect([champion, challenger].sort()).toEqual(['penguins-a', 'penguins-b']);
    // Each execution reports the record it wrote, and the later one what it found there first.
    const onCanary = [a, b].find((s) => s?.canary);
    expect(onCanary).toEqual({
      canary: true,
      canaryWindowSeconds: 600,
      champion,
      challenger,
      weight: 0.1,
    });
    expect([a, b].filter((s) => !s?.canary)).toEqual([
      { canary: false, canaryWindowSeconds: 0, champion, challenger: null, weight: 0 },
    ]);
  });
});
