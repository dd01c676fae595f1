import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type FittedFeatures,
  fitFeatures,
  LABEL_COLUMN,
  neededStatistic,
  type TrainStatistics,
} from '../../core/features/fitted';
import {
  categoryText,
  compileFeatures,
  compileTransform,
  type FeatureValue,
  labelOf,
} from '../../core/features/transform';
import { packBundle } from '../../core/model';
import { trainerHyperparameters } from '../../core/pipeline/training-job';
import type { PipelineSpec } from '../../core/spec/schema';
import { runTraining } from './train';

export interface RowsJobOptions {
  /** The model version (a training job's name). */
  readonly version: string;
  /** Over the spec's own, as a training job's would be (a bench's smaller model, say). */
  readonly hyperparameters?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

/**
 * A pipeline's training job on raw rows (the spec's columns, as ingest curates them): the feature
 * transform fitted on them and the rows as features and label, laid out in `root` as the features
 * step lays a job out for SageMaker, then trained by this trainer. Returns the model.tar.gz that
 * SageMaker would leave. The infer bench trains its flights model this way, and the inference
 * image's build its priming models.
 */
export const trainOnRows = async (
  spec: PipelineSpec,
  rows: readonly Readonly<Record<string, unknown>>[],
  root: string,
  { version, hyperparameters = {}, log = () => {} }: RowsJobOptions,
): Promise<string> => {
  const fitted = fitFeatures(spec, statistics(spec, rows));
  const transform = compileTransform(fitted);
  const names = fitted.features.map((f) => f.name);
  const lines = [[...names, LABEL_COLUMN].map(csvCell).join(',')];
  const classes = new Set<FeatureValue>();
  for (const row of rows) {
    const features = transform(row);
    const label = labelOf(fitted.label, row[spec.target.column]);
    classes.add(label);
    lines.push([...names.map((name) => features[name] ?? null), label].map(csvCell).join(','));
  }
  for (const dir of ['input/data/train', 'input/data/config', 'input/config'])
    mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'input/data/train/rows.csv'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(root, 'input/data/config/features.json'),
    JSON.stringify(fitted satisfies FittedFeatures),
  );
  writeFileSync(
    join(root, 'input/config/hyperparameters.json'),
    JSON.stringify({ ...trainerHyperparameters(spec, classes.size), ...hyperparameters }),
  );
  if ((await runTraining(root, { version, log })) !== 0)
    throw new Error(`training ${version} failed: ${readFileSync(join(root, 'output/failure'), 'utf8')}`);
  const tar = join(root, 'model.tar.gz');
  await packBundle(join(root, 'model'), tar);
  return tar;
};

/**
 * What the features step's fit queries measure on the train split (core/features/sql.ts), measured
 * on `rows`: each feature's values before any fill or vocabulary, computed only for the features
 * that need a statistic.
 */
const statistics = (
  spec: PipelineSpec,
  rows: readonly Readonly<Record<string, unknown>>[],
): TrainStatistics => {
  // Fitted on nothing, every fill is null: the functions give each feature's raw value.
  const raw = compileFeatures(fitFeatures(spec, { rows: rows.length, numeric: {}, frequencies: {} }));
  const numeric: Record<string, number | null> = {};
  const frequencies: Record<string, { value: string; count: number }[]> = {};
  for (const feature of spec.features) {
    const needed = neededStatistic(feature);
    const value = raw.get(feature.name);
    if (needed === null || !value) continue;
    if (needed === 'frequencies') {
      const type = spec.columns[feature.from]?.type ?? 'string';
      const counts = new Map<string, number>();
      for (const row of rows) {
        // A category counts by its text, as its vocabulary holds it.
        const text =
          feature.encode === 'category' ? categoryText(row[feature.from], type) : value(row)?.toString();
        if (text !== null && text !== undefined) counts.set(text, (counts.get(text) ?? 0) + 1);
      }
      frequencies[feature.name] = [...counts]
        .map(([text, count]) => ({ value: text, count }))
        .sort((a, b) => b.count - a.count);
      continue;
    }
    const present = rows
      .map(value)
      .filter((v): v is number => typeof v === 'number')
      .sort((a, b) => a - b);
    numeric[feature.name] = needed === 'mean' ? mean(present) : median(present);
  }
  return { rows: rows.length, numeric, frequencies };
};

const mean = (values: readonly number[]): number | null =>
  values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;

const median = (sorted: readonly number[]): number | null => {
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** A CSV cell, quoted where needed; missing is empty. */
const csvCell = (value: FeatureValue): string => {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};
