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

/** The rank (0-based, among `total` times in order) whose time is the boundary at `fraction`. */
export const boundaryRank = (fraction: number, total: number): number =>
  Math.min(total - 1, Math.max(0, Math.ceil(fraction * total) - 1));

/** The fractions of the rows at or before each boundary: trainEnd's, then validationEnd's. */
export const boundaryFractions = (spec: PipelineSpec): readonly [number, number] => [
  spec.split.train,
  spec.split.train + spec.split.validation,
];

/** The cut points of a time split: quantiles of the rows' times. */
export const timeBoundaries = (spec: PipelineSpec, times: Float64Array): TimeBoundaries => {
  const sorted = Float64Array.from(times).sort();
  const [train, validation] = boundaryFractions(spec).map((f) => sorted[boundaryRank(f, sorted.length)] ?? 0);
  return { trainEnd: train ?? 0, validationEnd: validation ?? 0 };
};

/** Rows whose times all lie in [first, last] (ms): a staged file's good rows. */
export interface TimeRange {
  readonly rows: number;
  readonly first: number;
  readonly last: number;
}

/** Of the time at `rank`: how many rows of ranges not read come before it. */
export interface RankWindow {
  readonly rank: number;
  readonly before: number;
  /**
   * The earliest the time at `rank` can be: a range whose last time is before it lies wholly at or
   * before that time, whatever it turns out to be.
   */
  readonly from: number;
}

/**
 * Which ranges must be read to find the time at each rank, given only each range's count and
 * bounds; `loose` more rows may have any time, and are always read. The time at rank r is at least
 * `from`, the earliest `first` by which more than r rows could have come (counting every range
 * that has begun, and the loose rows), and at most the earliest `last` by which more than r rows
 * certainly have. Only the ranges that reach into that span are read; the ranges wholly before it
 * are only counted (`before`). Data that arrives in time order leaves a range or two per rank.
 */
export const rankWindows = (
  ranges: readonly TimeRange[],
  loose: number,
  ranks: readonly number[],
): { readonly read: readonly boolean[]; readonly windows: readonly RankWindow[] } => {
  const indexed = ranges.map((range, i) => ({ ...range, i })).filter((range) => range.rows > 0);
  const byFirst = [...indexed].sort((a, b) => a.first - b.first);
  const byLast = [...indexed].sort((a, b) => a.last - b.last);
  /** The first value of `key`, in `sorted`, at which the rows counted so far exceed `rank`. */
  const reached = (sorted: typeof indexed, key: 'first' | 'last', rank: number, start: number) => {
    let seen = start;
    for (const range of sorted) {
      seen += range.rows;
      if (seen > rank) return range[key];
    }
    return undefined;
  };
  const spans = ranks.map((rank) => ({
    rank,
    from:
      loose > rank
        ? Number.NEGATIVE_INFINITY
        : (reached(byFirst, 'first', rank, loose) ?? Number.NEGATIVE_INFINITY),
    to: reached(byLast, 'last', rank, 0) ?? Number.POSITIVE_INFINITY,
  }));
  const read = ranges.map(
    (range) => range.rows > 0 && spans.some(({ from, to }) => range.last >= from && range.first <= to),
  );
  return {
    read,
    windows: spans.map(({ rank, from }) => ({
      rank,
      before: ranges.reduce((sum, range, i) => sum + (!read[i] && range.last < from ? range.rows : 0), 0),
      from,
    })),
  };
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

/**
 * Whether the rows are all good, all timed and all before `time`, the earliest the train boundary
 * can be (RankWindow.from): then wholeSplit will find them train, whatever the boundary turns out
 * to be, and they can be curated as they stand before it is known.
 */
export const trainBefore = (staged: StagedRows, time: number): boolean =>
  staged.rows > 0 &&
  staged.failing === 0 &&
  (staged.untimed ?? 0) === 0 &&
  staged.last != null &&
  staged.last < time;

/**
 * Why curated rows cannot be trained on, or undefined when they can: the model is fitted on the
 * train split and judged on the test split, so neither may be empty (validation may: it only stops
 * training early). A time split keeps rows of one time in one split, so a file of few times (daily
 * data, a day or two) can leave the later splits empty; a hash split can, of a file of few rows.
 */
export const untrainableSplits = (
  spec: PipelineSpec,
  curated: Readonly<Record<Split, number>>,
): string | undefined => {
  const empty = (['train', 'test'] as const).filter((split) => curated[split] === 0);
  if (empty.length === 0) return undefined;
  const total = curated.train + curated.validation + curated.test;
  const [rows, have, are] = total === 1 ? ['row', 'has', 'is'] : ['rows', 'have', 'are'];
  const why =
    spec.split.by === 'time'
      ? `split by time, rows of one time stay in one split, and the ${total} ${rows} curated ${have} too few times to fill every split`
      : `split by hash, the ${total} ${rows} curated ${are} too few to fill every split`;
  return `the ${empty.join(' and ')} split${empty.length > 1 ? 's are' : ' is'} empty: ${why}`;
};
