import * as z from 'zod';

/**
 * The deployment record of one pipeline (`deployments/<pipeline>/live.json` in the versioned
 * artifacts bucket): which model serves, which one is on canary and with what weight, since when and
 * why. Moving a model is one write of this record; the bucket's object versions are the history.
 * Code deploys never touch it, so a `serverless deploy` cannot change which model serves.
 */
const s3Location = z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) });

const servingModel = z.strictObject({
  version: z.string().min(1),
  model: s3Location,
  since: z.string().datetime(),
});

export const deploymentRecordSchema = z.strictObject({
  pipeline: z.string().min(1),
  champion: servingModel.nullable(),
  challenger: servingModel.extend({ weight: z.number().min(0).max(1) }).nullable(),
  updatedAt: z.string().datetime(),
  /** Why the last change was made, in words a person reads in the history. */
  reason: z.string(),
});

export type DeploymentRecord = z.output<typeof deploymentRecordSchema>;
export type ServingModel = z.output<typeof servingModel>;
export type S3Location = z.output<typeof s3Location>;
export type Variant = 'champion' | 'challenger';

export class DeploymentError extends Error {
  override name = 'DeploymentError';
}

/** A record read from S3 that does not match the schema: named, never guessed at. */
export class InvalidDeploymentRecordError extends DeploymentError {
  override name = 'InvalidDeploymentRecordError';
}

export const deploymentRecordKey = (pipeline: string): string => `deployments/${pipeline}/live.json`;

export const parseDeploymentRecord = (text: string, where: string): DeploymentRecord => {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidDeploymentRecordError(`${where}: not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const parsed = deploymentRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new InvalidDeploymentRecordError(
      `${where}: ${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
};

export const emptyDeployment = (pipeline: string, now: Date): DeploymentRecord => ({
  pipeline,
  champion: null,
  challenger: null,
  updatedAt: now.toISOString(),
  reason: 'no model deployed yet',
});

export interface Candidate {
  readonly version: string;
  readonly model: S3Location;
}

/**
 * Puts a gated model on canary. With no champion there is nothing to compare it with on live
 * traffic, so the first model becomes champion at once.
 */
export const startCanary = (
  record: DeploymentRecord,
  candidate: Candidate,
  weight: number,
  now: Date,
  reason: string,
): DeploymentRecord => {
  const since = now.toISOString();
  if (!record.champion) {
    return {
      ...record,
      champion: { ...candidate, since },
      challenger: null,
      updatedAt: since,
      reason: `first model: ${reason}`,
    };
  }
  return { ...record, challenger: { ...candidate, since, weight }, updatedAt: since, reason };
};

export const promoteChallenger = (
  record: DeploymentRecord,
  version: string,
  now: Date,
  reason: string,
): DeploymentRecord => {
  if (record.challenger?.version !== version) {
    throw new DeploymentError(
      `cannot promote ${version}: the challenger of ${record.pipeline} is ${record.challenger?.version ?? 'none'}`,
    );
  }
  const { weight: _weight, ...model } = record.challenger;
  const since = now.toISOString();
  return { ...record, champion: { ...model, since }, challenger: null, updatedAt: since, reason };
};

export const rollBackChallenger = (
  record: DeploymentRecord,
  version: string,
  now: Date,
  reason: string,
): DeploymentRecord => {
  if (record.challenger?.version !== version) {
    throw new DeploymentError(
      `cannot roll back ${version}: the challenger of ${record.pipeline} is ${record.challenger?.version ?? 'none'}`,
    );
  }
  return { ...record, challenger: null, updatedAt: now.toISOString(), reason };
};

/** FNV-1a: tiny, fast and stable across processes and versions, which routing needs. */
const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
};

/**
 * Which variant scores a record: a hash of its id against the challenger's weight, so a record
 * retried by Lambda meets the same model and each id is scored once per model version.
 */
export const chooseVariant = (record: DeploymentRecord, id: string): Variant => {
  const challenger = record.challenger;
  if (!challenger || challenger.weight <= 0) return 'champion';
  if (!record.champion || challenger.weight >= 1) return 'challenger';
  return fnv1a(`${record.pipeline}\u0000${id}`) / 2 ** 32 < challenger.weight ? 'challenger' : 'champion';
};
export * from './canary';
