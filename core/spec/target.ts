import type { PipelineSpec } from './schema';

/**
 * The label of a row, as training and evaluation both see it: a number for regression, 0/1 for
 * binary tasks, the class name for multiclass. Binary targets are positive when the spec's
 * `positive` rule holds; without a rule, `true` for a boolean column, or the SECOND of a column's two
 * allowed values (so `values: [no, yes]` reads naturally). The feature SQL applies the same rule.
 * Returns null for a missing target: such rows cannot be evaluated.
 */
export const targetLabel = (spec: PipelineSpec, value: unknown): number | string | null => {
  if (value === null || value === undefined || value === '') return null;
  const { task, positive, column } = spec.target;
  if (task === 'regression') {
    const n = typeof value === 'number' ? value : Number(value);
    return Number.isFinite(n) ? n : null;
  }
  if (task === 'multiclass') return String(value);
  if (positive) {
    if (positive.eq !== undefined) return String(value) === String(positive.eq) ? 1 : 0;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n)) return null;
    const holds =
      (positive.gt === undefined || n > positive.gt) &&
      (positive.gte === undefined || n >= positive.gte) &&
      (positive.lt === undefined || n < positive.lt) &&
      (positive.lte === undefined || n <= positive.lte);
    return holds ? 1 : 0;
  }
  const values = spec.columns[column]?.values;
  if (values && values.length === 2) return String(value) === String(values[1]) ? 1 : 0;
  return value === true || value === 'true' ? 1 : 0;
};
