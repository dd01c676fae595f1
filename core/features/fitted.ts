import { curatedColumnName } from '../spec/catalog';
import type { ColumnType, PipelineSpec } from '../spec/schema';

/**
 * A pipeline's feature definitions with their parameters fitted on the train split only
 * (imputation values, category vocabularies). Stored in the model bundle's manifest, so serving
 * applies exactly what training did; compiled to Trino SQL (sql.ts) and to a TypeScript transform
 * (transform.ts) that must agree row for row.
 */
export const FEATURES_FORMAT = 'mlpipe-features/1';
/** Categories outside the fitted vocabulary share this one value. */
export const OTHER_CATEGORY = '__other__';
/** The label column of the feature tables the trainer reads. */
export const LABEL_COLUMN = 'label';

export type Extract = 'hour' | 'dayOfWeek' | 'dayOfMonth' | 'month' | 'year';

export interface FittedFeature {
  readonly name: string;
  /** The spec column it is computed from, and that column's name in curated data. */
  readonly from: string;
  readonly column: string;
  readonly type: ColumnType;
  readonly kind: 'numeric' | 'category';
  readonly extract?: Extract;
  /** What a missing value becomes; null leaves it missing (the trees learn where missing goes). */
  readonly fill: number | string | null;
  /** Categories kept (the most frequent on train); any other value becomes OTHER_CATEGORY. */
  readonly vocabulary?: readonly string[];
}

export interface FittedLabel {
  readonly from: string;
  readonly column: string;
  readonly task: PipelineSpec['target']['task'];
  readonly type: ColumnType;
  readonly positive?: NonNullable<PipelineSpec['target']['positive']>;
  /** Binary over a two-valued column: the value that is class 1. */
  readonly positiveValue?: string;
}

export interface FittedFeatures {
  readonly format: typeof FEATURES_FORMAT;
  readonly pipeline: string;
  readonly features: readonly FittedFeature[];
  readonly label: FittedLabel;
  /** Train rows the parameters were fitted on. */
  readonly trainRows: number;
}

export class FeatureError extends Error {
  override name = 'FeatureError';
}

/** What the fit queries measured on the train split (see fitQueries in sql.ts). */
export interface TrainStatistics {
  readonly rows: number;
  /** Per feature name: the median or mean the spec asks to impute with. */
  readonly numeric: Readonly<Record<string, number | null>>;
  /** Per feature name: values with their counts, most frequent first. */
  readonly frequencies: Readonly<Record<string, readonly { value: string; count: number }[]>>;
}

/** Which statistics a feature needs fitted on train. */
export const neededStatistic = (
  feature: PipelineSpec['features'][number],
): 'median' | 'mean' | 'frequencies' | null => {
  if (feature.encode === 'category' || feature.impute === 'mode') return 'frequencies';
  if (feature.impute === 'median' || feature.impute === 'mean') return feature.impute;
  return null;
};

export const fitFeatures = (spec: PipelineSpec, stats: TrainStatistics): FittedFeatures => {
  if (stats.rows === 0) throw new FeatureError(`${spec.name}: the train split is empty; nothing to fit on`);
  const features = spec.features.map((f): FittedFeature => {
    const column = spec.columns[f.from];
    if (!column) throw new FeatureError(`${spec.name}: feature ${f.name} reads unknown column ${f.from}`);
    const base = {
      name: f.name,
      from: f.from,
      column: curatedColumnName(f.from),
      type: column.type,
      ...(f.extract ? { extract: f.extract } : {}),
    };
    const counts = stats.frequencies[f.name] ?? [];
    const mode = counts[0]?.value ?? null;
    if (f.encode === 'category') {
      const vocabulary = counts.slice(0, f.maxCategories).map((c) => c.value);
      return { ...base, kind: 'category', fill: f.impute === 'mode' ? mode : null, vocabulary };
    }
    let fill: number | string | null = null;
    if (f.impute === 'zero') fill = 0;
    else if (f.impute === 'mode') fill = mode === null ? null : Number(mode);
    else if (f.impute === 'median' || f.impute === 'mean') {
      const value = stats.numeric[f.name];
      fill = value === null || value === undefined || !Number.isFinite(value) ? null : value;
    }
    return { ...base, kind: 'numeric', fill };
  });
  const target = spec.columns[spec.target.column];
  if (!target) throw new FeatureError(`${spec.name}: no target column ${spec.target.column}`);
  const values = target.values;
  const label: FittedLabel = {
    from: spec.target.column,
    column: curatedColumnName(spec.target.column),
    task: spec.target.task,
    type: target.type,
    ...(spec.target.positive ? { positive: spec.target.positive } : {}),
    ...(spec.target.task === 'binary' &&
    !spec.target.positive &&
    values?.length === 2 &&
    values[1] !== undefined
      ? { positiveValue: values[1] }
      : {}),
  };
  return { format: FEATURES_FORMAT, pipeline: spec.name, features, label, trainRows: stats.rows };
};
