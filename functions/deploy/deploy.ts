import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import type { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import {
  type AlarmReading,
  canaryAlarmNames,
  type DeploymentRecord,
  deploymentRecordKey,
  emptyDeployment,
  judgeCanary,
  parseDeploymentRecord,
  promoteChallenger,
  rollBackChallenger,
  startCanary,
} from '../../core/deployment';
import { type DeploySummary, type Judgement, runStateSchema } from '../../core/pipeline';
import { loadSpecFile } from '../../core/spec/load';
import { durationSeconds } from '../../core/spec/schema';
import { getText, putJson } from '../shared/s3';

/**
 * The deploy step moves models by writing the pipeline's deployment record, never by deploying
 * code. `deploy` puts the candidate on canary (or makes it champion when there is none); `judge`,
 * after the canary window, reads the challenger's own alarms and promotes it or rolls it back.
 * Both are idempotent: a retried step finds the record already written and answers the same.
 */
export const deployEventSchema = z.object({
  action: z.enum(['deploy', 'judge']),
  execution: z.string().min(1),
  run: runStateSchema,
});
export type DeployEvent = z.output<typeof deployEventSchema>;

export interface DeploySettings {
  readonly artifactsBucket: string;
  readonly pipelinesDir: string;
  readonly canaryWeight: number;
  readonly canaryWindow: string;
  /** The stage's cap on a spec's window (the local stage keeps it to seconds). */
  readonly canaryWindowMax: string;
  readonly alarmPrefix: string;
}

export class DeployStepError extends Error {
  override name = 'DeployStepError';
}

interface Deps {
  readonly s3: S3Client;
  readonly cloudwatch: CloudWatchClient;
  readonly settings: DeploySettings;
  readonly now?: () => Date;
}

const readRecord = async (deps: Deps, pipeline: string): Promise<DeploymentRecord> => {
  const key = deploymentRecordKey(pipeline);
  const text = await getText(deps.s3, { bucket: deps.settings.artifactsBucket, key });
  return text
    ? parseDeploymentRecord(text, key)
    : emptyDeployment(pipeline, (deps.now ?? (() => new Date()))());
};

const writeRecord = (deps: Deps, record: DeploymentRecord) =>
  putJson(
    deps.s3,
    { bucket: deps.settings.artifactsBucket, key: deploymentRecordKey(record.pipeline) },
    record,
  );

export const deployModel = async (event: DeployEvent, deps: Deps): Promise<DeploySummary> => {
  const evaluated = event.run.evaluated?.result;
  if (!evaluated) throw new DeployStepError('the state carries no evaluated model to deploy');
  const spec = loadSpecFile(`${deps.settings.pipelinesDir}/${event.run.pipeline}.yml`);
  const weight = spec.deployment.canaryWeight ?? deps.settings.canaryWeight;
  const window = Math.min(
    durationSeconds(spec.deployment.canaryWindow ?? deps.settings.canaryWindow),
    durationSeconds(deps.settings.canaryWindowMax),
  );
  let record = await readRecord(deps, spec.name);
  const already =
    record.champion?.version === evaluated.version || record.challenger?.version === evaluated.version;
  if (!already) {
    const why = `gate passed on ${evaluated.gate.comparedOn} (execution ${event.execution})`;
    record = startCanary(
      record,
      { version: evaluated.version, model: evaluated.model },
      weight,
      (deps.now ?? (() => new Date()))(),
      why,
    );
    await writeRecord(deps, record);
  }
  const onCanary = record.challenger?.version === evaluated.version;
  return {
    canary: onCanary,
    canaryWindowSeconds: onCanary ? window : 0,
    champion: record.champion?.version ?? null,
    challenger: record.challenger?.version ?? null,
    weight: record.challenger?.weight ?? 0,
  };
};

export const judgeDeployment = async (event: DeployEvent, deps: Deps): Promise<Judgement> => {
  const version = event.run.evaluated?.result.version;
  if (!version) throw new DeployStepError('the state carries no evaluated model to judge');
  const pipeline = event.run.pipeline;
  const record = await readRecord(deps, pipeline);
  if (record.challenger?.version !== version) {
    // Judged before (a retry), or moved by hand: report what the record says.
    const promoted = record.champion?.version === version;
    return {
      promoted,
      reason: `the record already shows ${version} as ${promoted ? 'champion' : 'not serving'}`,
      alarms: [],
    };
  }
  const names = canaryAlarmNames(deps.settings.alarmPrefix, pipeline);
  const { MetricAlarms = [] } = await deps.cloudwatch.send(
    new DescribeAlarmsCommand({ AlarmNames: [names.errors, names.latency] }),
  );
  const readings: AlarmReading[] = MetricAlarms.map((a) => ({
    name: a.AlarmName ?? '',
    state: (a.StateValue ?? 'INSUFFICIENT_DATA') as AlarmReading['state'],
    ...(a.StateReason ? { reason: a.StateReason } : {}),
  }));
  const verdict = judgeCanary(version, readings);
  const now = (deps.now ?? (() => new Date()))();
  await writeRecord(
    deps,
    verdict.promote
      ? promoteChallenger(record, version, now, verdict.reason)
      : rollBackChallenger(record, version, now, verdict.reason),
  );
  return { promoted: verdict.promote, reason: verdict.reason, alarms: [...verdict.alarms] };
};
