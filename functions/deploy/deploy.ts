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
import { getTextVersion, isLostRace, putJson } from '../shared/s3';

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

/** The record as read, with the ETag it was read at (null: there was none). */
interface ReadRecord {
  readonly record: DeploymentRecord;
  readonly etag: string | null;
}

const readRecord = async (deps: Deps, pipeline: string): Promise<ReadRecord> => {
  const key = deploymentRecordKey(pipeline);
  const read = await getTextVersion(deps.s3, { bucket: deps.settings.artifactsBucket, key });
  return read
    ? { record: parseDeploymentRecord(read.text, key), etag: read.etag }
    : { record: emptyDeployment(pipeline, (deps.now ?? (() => new Date()))()), etag: null };
};

/** How many times a step reads the record again after another writer changed it under it. */
const WRITE_ATTEMPTS = 5;

/**
 * Reads the record (or starts from `read`, a reading the caller already has), lets `change` decide
 * what to write (nothing: undefined), and writes it only over the version it read. Two executions
 * of a pipeline can deploy or judge at once; without the condition the later write would silently
 * undo the earlier (a canary started, then overwritten by a record read before it). On a lost race
 * the step reads again and decides again.
 */
const updateRecord = async <T>(
  deps: Deps,
  pipeline: string,
  change: (record: DeploymentRecord) => { readonly write?: DeploymentRecord; readonly answer: T },
  read?: ReadRecord,
): Promise<T> => {
  for (let attempt = 1; ; attempt++) {
    const { record, etag } = attempt === 1 && read ? read : await readRecord(deps, pipeline);
    const { write, answer } = change(record);
    if (!write) return answer;
    try {
      await putJson(
        deps.s3,
        { bucket: deps.settings.artifactsBucket, key: deploymentRecordKey(pipeline) },
        write,
        { over: etag },
      );
      return answer;
    } catch (error) {
      if (!isLostRace(error) || attempt === WRITE_ATTEMPTS) throw error;
    }
  }
};

export const deployModel = async (event: DeployEvent, deps: Deps): Promise<DeploySummary> => {
  const evaluated = event.run.evaluated?.result;
  if (!evaluated) throw new DeployStepError('the state carries no evaluated model to deploy');
  const spec = loadSpecFile(`${deps.settings.pipelinesDir}/${event.run.pipeline}.yml`);
  const weight = spec.deployment.canaryWeight ?? deps.settings.canaryWeight;
  const window = Math.min(
    durationSeconds(spec.deployment.canaryWindow ?? deps.settings.canaryWindow),
    durationSeconds(deps.settings.canaryWindowMax),
  );
  const summary = (record: DeploymentRecord): DeploySummary => {
    const onCanary = record.challenger?.version === evaluated.version;
    return {
      canary: onCanary,
      canaryWindowSeconds: onCanary ? window : 0,
      champion: record.champion?.version ?? null,
      challenger: record.challenger?.version ?? null,
      weight: record.challenger?.weight ?? 0,
    };
  };
  return updateRecord(deps, spec.name, (record) => {
    if (record.champion?.version === evaluated.version || record.challenger?.version === evaluated.version)
      return { answer: summary(record) };
    const why = `gate passed on ${evaluated.gate.comparedOn} (execution ${event.execution})`;
    const write = startCanary(
      record,
      { version: evaluated.version, model: evaluated.model },
      weight,
      (deps.now ?? (() => new Date()))(),
      why,
    );
    return { write, answer: summary(write) };
  });
};

export const judgeDeployment = async (event: DeployEvent, deps: Deps): Promise<Judgement> => {
  const version = event.run.evaluated?.result.version;
  if (!version) throw new DeployStepError('the state carries no evaluated model to judge');
  const pipeline = event.run.pipeline;
  // Judged before (a retry), or moved by hand or by another execution: report what the record says.
  const settled = (record: DeploymentRecord): Judgement => {
    const promoted = record.champion?.version === version;
    return {
      promoted,
      reason: `the record already shows ${version} as ${promoted ? 'champion' : 'not serving'}`,
      alarms: [],
    };
  };
  const before = await readRecord(deps, pipeline);
  if (before.record.challenger?.version !== version) return settled(before.record);
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
  return updateRecord(
    deps,
    pipeline,
    (record) => {
      if (record.challenger?.version !== version) return { answer: settled(record) };
      return {
        write: verdict.promote
          ? promoteChallenger(record, version, now, verdict.reason)
          : rollBackChallenger(record, version, now, verdict.reason),
        answer: { promoted: verdict.promote, reason: verdict.reason, alarms: [...verdict.alarms] },
      };
    },
    before,
  );
};
