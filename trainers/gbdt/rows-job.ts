import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type FittedFeatures,
  fitFeatures,
  LABEL_COLUMN,
  neededStatistic,
  type TrainStatistics,
} from '../../core/features/fitted';
import { categoryText, compileTransform, type FeatureValue, labelOf } from '../../core/features/transform';
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

/** What the features step's fit queries measure on the train split, measured on `rows`. */
const statistics = (
  spec: PipelineSpec,
  rows: readonly Readonly<Record<string, unknown>>[],
): TrainStatistics => {
  // The features' values before any fill or vocabulary: fitted on nothing, every fill is null.
  const raw = compileTransform(fitFeatures(spec, { rows: rows.length, numeric: {}, frequencies: {} }));
  const values = rows.map(raw);
  const numeric: Record<string, number | null> = {};
  const frequencies: Record<string, { value: string; count: number }[]> = {};
  for (const feature of spec.features) {
    const needed = neededStatistic(feature);
    if (needed === null) continue;
    const type = spec.columns[feature.from]?.type ?? 'string';
    if (needed === 'frequencies') {
      const counts = new Map<string, number>();
      rows.forEach((row, i) => {
        const text =
          feature.encode === 'category'
            ? categoryText(row[feature.from], type)
            : (values[i]?.[feature.name] ?? null)?.toString();
        if (text !== null && text !== undefined) counts.set(text, (counts.get(text) ?? 0) + 1);
      });
      frequencies[feature.name] = [...counts]
        .map(([value, count]) => ({ value, count }))
        .sort((a, b) => b.count - a.count);
      continue;
    }
    const present = values
      .map((v) => v[feature.name])
      .filter((v): v is number => typeof v === 'number')
      .sort((a, b) => a - b);
    if (present.length === 0) numeric[feature.name] = null;
    else if (needed === 'mean') numeric[feature.name] = present.reduce((a, b) => a + b, 0) / present.length;
    else {
      const middle = present.length / 2;
      numeric[feature.name] = Number.isInteger(middle)
        ? ((present[middle - 1] as number) + (present[middle] as number)) / 2
        : (present[Math.floor(middle)] as number);
    }
  }
  return { rows: rows.length, numeric, frequencies };
};

/** A CSV cell, quoted where needed; missing is empty. */
const csvCell = (value: FeatureValue): string => {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};
