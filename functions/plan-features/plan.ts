import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  type CuratedTable,
  featureUnload,
  fitFeatures,
  fitQueries,
  quoteIdentifier,
  quoteString,
  type TrainStatistics,
} from '../../core/features';
import { type FeaturePlan, type TrainingInput, trainingJobParts } from '../../core/pipeline';
import { curatedColumnName } from '../../core/spec/catalog';
import { loadSpecFile } from '../../core/spec/load';
import { runQuery } from '../shared/athena';
import { putJson } from '../shared/s3';

/**
 * The features step: fits the pipeline's feature parameters on the train split of this ingest
 * (through Athena), stores them, and plans one UNLOAD per split plus the training job that reads
 * them. Each invocation writes under its own run id: an UNLOAD needs an empty destination, so a
 * retried step never collides with a half-written earlier attempt.
 */
export interface PlanSettings {
  readonly artifactsBucket: string;
  readonly glueDatabase: string;
  readonly athenaWorkgroup: string;
  readonly pipelinesDir: string;
  readonly trainerImageGbdt: string;
  readonly trainingInstanceType: string;
  readonly trainingSpot: boolean;
}

export interface PlanDeps {
  readonly s3: S3Client;
  readonly athena: AthenaClient;
  readonly settings: PlanSettings;
  readonly runId: string;
}

export const curatedTableName = (pipeline: string): string => `curated_${pipeline.replace(/-/g, '_')}`;

export const planFeatures = async (input: TrainingInput, deps: PlanDeps): Promise<FeaturePlan> => {
  const { settings } = deps;
  const spec = loadSpecFile(`${settings.pipelinesDir}/${input.pipeline}.yml`);
  const table: CuratedTable = {
    database: settings.glueDatabase,
    table: curatedTableName(spec.name),
    ingestId: input.ingestId,
  };
  const target = { workGroup: settings.athenaWorkgroup, database: settings.glueDatabase };
  const numeric: Record<string, number | null> = {};
  const frequencies: Record<string, { value: string; count: number }[]> = {};
  let rows = 0;
  for (const query of fitQueries(spec, table)) {
    const result = await runQuery(deps.athena, target, query.sql);
    if (query.kind === 'numeric') {
      const row = result[0] ?? {};
      rows = Number(row.rows ?? 0);
      for (const [name, value] of Object.entries(row))
        if (name !== 'rows') numeric[name] = value === null ? null : Number(value);
    } else if (query.feature) {
      frequencies[query.feature] = result.map((r) => ({ value: String(r.value), count: Number(r.count) }));
    }
  }
  const stats: TrainStatistics = { rows, numeric, frequencies };
  const fitted = fitFeatures(spec, stats);
  let classCount: number | undefined;
  if (spec.target.task === 'multiclass') {
    classCount = spec.columns[spec.target.column]?.values?.length;
    if (classCount === undefined) {
      const column = quoteIdentifier(curatedColumnName(spec.target.column));
      const [row] = await runQuery(
        deps.athena,
        target,
        `SELECT count(DISTINCT ${column}) AS "classes" FROM ${quoteIdentifier(table.database)}.${quoteIdentifier(table.table)} WHERE "ingest" = ${quoteString(table.ingestId)} AND "split" = 'train'`,
      );
      classCount = Number(row?.classes ?? 0);
    }
  }
  const base = `features/${spec.name}/${input.ingestId}/${deps.runId}/`;
  const uri = (path: string) => `s3://${settings.artifactsBucket}/${base}${path}`;
  const featureParams = { bucket: settings.artifactsBucket, key: `${base}config/features.json` };
  await putJson(deps.s3, featureParams, fitted);
  const training = trainingJobParts({
    spec,
    config: {
      trainerImages: { gbdt: settings.trainerImageGbdt },
      instanceType: settings.trainingInstanceType,
      spot: settings.trainingSpot,
      artifactsBucket: settings.artifactsBucket,
    },
    channels: { train: uri('split=train/'), validation: uri('split=validation/'), config: uri('config/') },
    ingestId: input.ingestId,
    ...(classCount !== undefined ? { classCount } : {}),
  });
  return {
    featureParams,
    features: { bucket: settings.artifactsBucket, prefix: base },
    queries: (['train', 'validation', 'test'] as const).map((split) => ({
      split,
      sql: featureUnload(fitted, table, split, uri(`split=${split}/`)),
    })),
    training: { ...training },
  };
};
