import { createHash } from 'node:crypto';
import type { PipelineSpec } from '../spec/schema';
import type { CleanRow } from './validate';

/**
 * Which split a row belongs to. By hash of the id column (or of the whole row without one), so a
 * row keeps its split when data is dropped again and a test row never leaks into training; or by
 * time, where the spec says so (train is the earliest part, test the latest).
 */
export const SPLITS = ['train', 'validation', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** A stable number in [0, 1) from text: the first 48 bits of its SHA-256. */
export const unitHash = (text: string): number => {
  const digest = createHash('sha256').update(text).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
};

const canonical = (row: CleanRow): string =>
  JSON.stringify(
    Object.keys(row)
      .sort()
      .map((k) => [k, row[k] instanceof Date ? (row[k] as Date).toISOString() : row[k]]),
  );

const byFraction = (spec: PipelineSpec, u: number): Split =>
  u < spec.split.train ? 'train' : u < spec.split.train + spec.split.validation ? 'validation' : 'test';

export const hashSplit = (spec: PipelineSpec, row: CleanRow): Split => {
  const key =
    spec.id !== undefined
      ? `${spec.name}\u0000id\u0000${String(row[spec.id])}`
      : `${spec.name}\u0000row\u0000${canonical(row)}`;
  return byFraction(spec, unitHash(key));
};

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
