import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type DeploymentRecord, deploymentRecordKey } from '../../core/deployment';
import { packBundle } from '../../core/model';
import { runTraining } from '../../trainers/gbdt/train';

/** Rows as CSV with a header, quoted where needed: a training channel the trainer reads. */
const toCsv = (rows: readonly Record<string, unknown>[]): string => {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const text = String(v);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return `${[columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n')}\n`;
};

/**
 * Trains a model of `pipeline` on raw rows with the real trainer (SageMaker contract, in a folder)
 * and returns its model.tar.gz, as a training job leaves it in S3.
 */
export const trainModel = async (
  work: string,
  version: string,
  rows: readonly Record<string, unknown>[],
  hyperparameters: Record<string, string>,
): Promise<string> => {
  const root = join(work, version);
  mkdirSync(join(root, 'input/data/train'), { recursive: true });
  mkdirSync(join(root, 'input/config'), { recursive: true });
  writeFileSync(join(root, 'input/data/train/rows.csv'), toCsv(rows));
  writeFileSync(join(root, 'input/config/hyperparameters.json'), JSON.stringify(hyperparameters));
  const code = await runTraining(root, { version, log: () => {} });
  if (code !== 0) throw new Error(`training ${version} failed (see ${root}/output/failure)`);
  const file = join(work, `${version}.tar.gz`);
  await packBundle(join(root, 'model'), file);
  return file;
};

export const PENGUIN_HYPERPARAMETERS = {
  objective: 'multi:softprob',
  num_class: '3',
  max_depth: '4',
  eta: '0.2',
  target: 'Species',
  pipeline: 'penguins',
} as const;

export const modelKey = (pipeline: string, version: string) =>
  `models/${pipeline}/${version}/output/model.tar.gz`;

/** Writes a deployment record, as the deploy step does: one PUT moves models. */
export const writeDeployment = async (
  s3: S3Client,
  bucket: string,
  pipeline: string,
  champion: string | null,
  challenger?: { version: string; weight: number },
): Promise<DeploymentRecord> => {
  const since = new Date().toISOString();
  const serving = (version: string) => ({
    version,
    model: { bucket, key: modelKey(pipeline, version) },
    since,
  });
  const record: DeploymentRecord = {
    pipeline,
    champion: champion ? serving(champion) : null,
    challenger: challenger ? { ...serving(challenger.version), weight: challenger.weight } : null,
    updatedAt: since,
    reason: 'written by a test',
  };
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: deploymentRecordKey(pipeline),
      Body: JSON.stringify(record),
    }),
  );
  return record;
};
