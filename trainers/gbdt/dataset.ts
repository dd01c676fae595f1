import { asNumber, type ColumnEncoding, columnEncoders, isMissing } from '../../core/model/encoding';
import type { Objective } from './hyperparameters';

/**
 * From a channel's table to the numbers the trees split on. Every input column becomes float32
 * (NaN = missing), which is also what the ONNX model receives, so training and serving compare the
 * same values. String columns become categories coded 0, 1, … by their frequency in the train
 * split, which the trees split as sets (trees.ts); the order only decides which (rarest) categories
 * share the last histogram bin when there are more than 254.
 */
export interface Table {
  readonly names: readonly string[];
  readonly columns: readonly (readonly unknown[])[];
  readonly rows: number;
}

export interface Encoder {
  readonly target: string;
  readonly objective: Objective;
  readonly encodings: readonly ColumnEncoding[];
  /** Class names in output order (classifiers); binary is always ["0", "1"]. */
  readonly classes?: readonly string[];
}

export interface Prepared {
  /** One float32 column per input, in `encoder.encodings` order. */
  readonly features: readonly Float32Array[];
  /** Regression: the value; binary: 0/1; multiclass: the class index. */
  readonly label: Float64Array;
  readonly rows: number;
  /** Per input: its number of categories (the trainer splits those as sets), 0 for a numeric input. */
  readonly categoryCounts: readonly number[];
  /** Rows left out, by reason (a missing label, a class the model was not trained on). */
  readonly skipped: Readonly<Record<string, number>>;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

const looksNumeric = (values: readonly unknown[]): boolean =>
  values.every(
    (v) =>
      isMissing(v) ||
      typeof v === 'number' ||
      typeof v === 'bigint' ||
      typeof v === 'boolean' ||
      v instanceof Date ||
      (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))),
  );

const binaryLabel = (v: unknown): number => {
  if (v === true || v === 1 || v === '1' || v === 'true' || v === 1n) return 1;
  if (v === false || v === 0 || v === '0' || v === 'false' || v === 0n) return 0;
  return Number.NaN;
};

const columnOf = (table: Table, name: string, what: string): readonly unknown[] => {
  const index = table.names.indexOf(name);
  if (index < 0) throw new DatasetError(`${what}: no column "${name}"; columns: ${table.names.join(', ')}`);
  return table.columns[index] as readonly unknown[];
};

/** Fits the encoder on the train split only. `classes` may come from the feature plan. */
export const fitEncoder = (
  train: Table,
  target: string,
  objective: Objective,
  options: { drop?: readonly string[]; classes?: readonly string[]; categorical?: readonly string[] } = {},
): Encoder => {
  const labels = columnOf(train, target, 'train channel');
  if (train.rows === 0) throw new DatasetError('train channel: no rows');
  checkFiniteTarget(labels, target, 'train channel');
  let classes: readonly string[] | undefined;
  if (objective === 'binary:logistic') classes = ['0', '1'];
  else if (objective === 'multi:softprob') {
    classes =
      options.classes ??
      [...new Set(labels.filter((v) => !isMissing(v)).map(String))].sort((a, b) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
  }
  const y = prepareLabel(labels, objective, classes, options.classes !== undefined);
  if (objective !== 'reg:squarederror') {
    const seen = new Set<number>();
    for (const v of y) if (!Number.isNaN(v)) seen.add(v);
    if (seen.size < 2) {
      throw new DatasetError(
        `train channel: ${target} has ${seen.size === 0 ? 'no usable value' : `a single class (${classes?.[[...seen][0] as number] ?? [...seen][0]})`}; a classifier needs at least two`,
      );
    }
  }
  const encodings: ColumnEncoding[] = [];
  for (const [i, name] of train.names.entries()) {
    if (name === target || options.drop?.includes(name)) continue;
    const values = train.columns[i] as readonly unknown[];
    if (values.every(isMissing)) {
      throw new DatasetError(
        `train channel: column "${name}" has no value in any row; drop it (hyperparameter drop)`,
      );
    }
    if (!options.categorical?.includes(name) && looksNumeric(values)) {
      encodings.push({ column: name, kind: 'numeric' });
      continue;
    }
    const counts = new Map<string, number>();
    for (const v of values) if (!isMissing(v)) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
    // Most frequent first, ties by name: the same data always gets the same codes.
    const categories = [...counts.entries()]
      .sort(([a, ca], [b, cb]) => (cb !== ca ? cb - ca : a < b ? -1 : a > b ? 1 : 0))
      .map(([key]) => key);
    encodings.push({ column: name, kind: 'category', categories });
  }
  if (encodings.length === 0)
    throw new DatasetError(`train channel: no input column besides the label "${target}"`);
  return { target, objective, encodings, ...(classes ? { classes } : {}) };
};

const checkFiniteTarget = (labels: readonly unknown[], target: string, where: string): void => {
  const row = labels.findIndex((v) => typeof v === 'number' && !Number.isFinite(v));
  if (row >= 0)
    throw new DatasetError(
      `${where}: row ${row + 1}: ${target} is ${labels[row]}; a target must be a finite number`,
    );
};

const prepareLabel = (
  labels: readonly unknown[],
  objective: Objective,
  classes: readonly string[] | undefined,
  labelsAreIndexes: boolean,
): Float64Array => {
  const y = new Float64Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (objective === 'reg:squarederror') y[i] = asNumber(v);
    else if (objective === 'binary:logistic') y[i] = binaryLabel(v);
    else if (isMissing(v)) y[i] = Number.NaN;
    else if (labelsAreIndexes) {
      const n = asNumber(v);
      y[i] = Number.isInteger(n) && n >= 0 && n < (classes?.length ?? 0) ? n : Number.NaN;
    } else {
      const index = classes?.indexOf(String(v)) ?? -1;
      y[i] = index < 0 ? Number.NaN : index;
    }
  }
  return y;
};

/** Applies a fitted encoder to a channel. Rows without a usable label are counted, not trained on. */
export const prepare = (
  encoder: Encoder,
  table: Table,
  labelsAreIndexes = false,
  channel = 'train',
): Prepared => {
  const rawLabels = columnOf(table, encoder.target, `${channel} channel`);
  checkFiniteTarget(rawLabels, encoder.target, `${channel} channel`);
  const allLabels = prepareLabel(rawLabels, encoder.objective, encoder.classes, labelsAreIndexes);
  const keep: number[] = [];
  const skipped: Record<string, number> = {};
  for (let i = 0; i < table.rows; i++) {
    if (Number.isNaN(allLabels[i] as number)) {
      const why = isMissing(rawLabels[i]) ? `missing ${encoder.target}` : `unusable ${encoder.target}`;
      skipped[why] = (skipped[why] ?? 0) + 1;
    } else keep.push(i);
  }
  const encoders = columnEncoders(encoder.encodings);
  const features = encoder.encodings.map((e, c) => {
    const values = columnOf(table, e.column, `${channel} channel`);
    const encode = encoders[c] as (v: unknown) => number;
    return Float32Array.from(keep, (row) => encode(values[row]));
  });
  const label = Float64Array.from(keep, (row) => allLabels[row] as number);
  const categoryCounts = encoder.encodings.map((e) => (e.kind === 'category' ? e.categories.length : 0));
  return { features, label, rows: keep.length, categoryCounts, skipped };
};

/** A prepared channel as one row-major float32 matrix, as the ONNX model takes it. */
export const matrixOf = (p: Prepared): Float32Array => {
  const width = p.features.length;
  const out = new Float32Array(p.rows * width);
  p.features.forEach((column, c) => {
    for (let r = 0; r < p.rows; r++) out[r * width + c] = column[r] as number;
  });
  return out;
};
