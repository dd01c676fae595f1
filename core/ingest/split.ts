import type { PipelineSpec } from '../spec/schema';

/**
 * Which split a row belongs to. By hash of the id column (or of the whole row without one), so a
 * row keeps its split when data is dropped again and a test row never leaks into training (as SQL:
 * splitSql in validate-sql.ts); or by time, where the spec says so (train is the earliest part,
 * test the latest).
 */
export const SPLITS = ['train', 'validation', 'test'] as const;
export type Split = (typeof SPLITS)[number];

export interface TimeBoundaries {
  /** Rows at or before this instant (ms) are train; then validation up to `validationEnd`; then test. */
  readonly trainEnd: number;
  readonly validationEnd: number;
}

/** The cut points of a time split: quantiles of the rows' times. */
export const timeBoundaries = (spec: PipelineSpec, times: Float64Array): TimeBoundaries => {
  const sorted = Float64Array.from(times).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  return { trainEnd: at(spec.split.train), validationEnd: at(spec.split.train + spec.split.validation) };
};

/**
 * timeBoundaries from the count of rows at each time (ascending, a null time last), so a file's
 * times never sit in memory one by one: a year of minutes is at most ~525k counts, whatever the
 * number of rows. Same ranks as timeBoundaries.
 */
export const timeBoundariesOfCounts = (
  spec: PipelineSpec,
  counts: readonly { readonly time: number | null; readonly rows: number }[],
): TimeBoundaries => {
  const total = counts.reduce((sum, c) => sum + c.rows, 0);
  const at = (q: number) => {
    const rank = Math.min(total - 1, Math.max(0, Math.ceil(q * total) - 1));
    let seen = 0;
    let last = 0;
    for (const c of counts) {
      if (c.time !== null) last = c.time;
      seen += c.rows;
      if (rank < seen) return last;
    }
    return last;
  };
  return { trainEnd: at(spec.split.train), validationEnd: at(spec.split.train + spec.split.validation) };
};

export const timeSplit = (time: number, b: TimeBoundaries): Split =>
  time <= b.trainEnd ? 'train' : time <= b.validationEnd ? 'validation' : 'test';
