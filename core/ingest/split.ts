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

export const timeSplit = (time: number, b: TimeBoundaries): Split =>
  time <= b.trainEnd ? 'train' : time <= b.validationEnd ? 'validation' : 'test';

/** Rows written together (a staged file), as far as their split goes. */
export interface StagedRows {
  readonly rows: number;
  /** Rows that failed validation: they are not curated, so the rows cannot be taken as they stand. */
  readonly failing: number;
  /** Of a time split: the earliest and latest time (ms) of the good rows, and how many have none. */
  readonly first?: number | null;
  readonly last?: number | null;
  readonly untimed?: number;
}

/**
 * The split all of the rows fall in, when they are all good and fall in one (then a staged file is
 * curated as it stands). Rows without a time are ranked last, in test, as splitSql puts them.
 */
export const wholeSplit = (staged: StagedRows, bounds: TimeBoundaries): Split | undefined => {
  if (staged.failing > 0 || staged.rows === 0) return undefined;
  const first = staged.first ?? null;
  const last = staged.last ?? null;
  if (first === null || last === null) return staged.untimed === staged.rows ? 'test' : undefined;
  const split = timeSplit(first, bounds);
  if (timeSplit(last, bounds) !== split) return undefined;
  return (staged.untimed ?? 0) === 0 || split === 'test' ? split : undefined;
};
