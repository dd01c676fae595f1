import type { ColumnSpec, PipelineSpec } from './schema';

/**
 * Rows a pipeline's spec accepts, made from the spec alone: each value within the column's range and
 * allowed values, none missing, and the target spread so a classifier meets at least two classes.
 * The inference image's build trains a small model of each pipeline on them, to run each entry point
 * once, end to end, before its code cache is written (functions/infer/make-code-cache.ts).
 */
export const exampleRows = (spec: PipelineSpec, count: number): Record<string, unknown>[] =>
  Array.from({ length: count }, (_, i) =>
    Object.fromEntries(
      Object.entries(spec.columns).map(([name, column]) => [
        name,
        name === spec.target.column ? exampleTarget(spec, column, i) : exampleValue(column, i),
      ]),
    ),
  );

/** Five points from the low end of a column's range to its high end. */
const spread = (column: ColumnSpec, i: number, width: number): number => {
  const low = column.min ?? (column.max === undefined ? 0 : column.max - width);
  const high = column.max ?? low + width;
  return low + ((high - low) * (i % 5)) / 4;
};

const inRange = (column: ColumnSpec, value: number): number =>
  Math.min(column.max ?? Number.POSITIVE_INFINITY, Math.max(column.min ?? Number.NEGATIVE_INFINITY, value));

const whole = (column: ColumnSpec, value: number): number => {
  const rounded = Math.round(value);
  if (column.min !== undefined && rounded < column.min) return Math.ceil(column.min);
  if (column.max !== undefined && rounded > column.max) return Math.floor(column.max);
  return rounded;
};

/** "2001-01-01 00:00:00": the form curated data and DuckDB print, read as UTC. */
const timestampText = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

const exampleValue = (column: ColumnSpec, i: number): unknown => {
  switch (column.type) {
    case 'string':
      return column.values ? column.values[i % column.values.length] : `example-${i % 3}`;
    case 'number':
      return spread(column, i, 100);
    case 'integer':
      return whole(column, spread(column, i, 100));
    case 'boolean':
      return i % 2 === 0;
    case 'timestamp':
      // Seven hours apart, so hours, days and months all vary.
      return timestampText(Date.UTC(2001, 0, 1) + i * 7 * 3_600_000);
  }
};

/** The target: on both sides of a binary task's rule, and through a class column's values. */
const exampleTarget = (spec: PipelineSpec, column: ColumnSpec, i: number): unknown => {
  const rule = spec.target.positive;
  if (spec.target.task !== 'binary' || !rule) return exampleValue(column, i);
  const { eq } = rule;
  if (eq !== undefined) {
    if (i % 2 === 0) return eq;
    if (typeof eq === 'boolean') return !eq;
    if (typeof eq === 'number')
      return inRange(column, eq + (column.max !== undefined && eq + 1 > column.max ? -1 : 1));
    return column.values?.find((value) => value !== eq) ?? `not-${eq}`;
  }
  const at = rule.gt ?? rule.gte ?? rule.lt ?? rule.lte ?? 0;
  const value = inRange(column, at + (i % 2 === 0 ? -1 : 1));
  return column.type === 'integer' ? whole(column, value) : value;
};
