import { rankWindows, trainBefore, untrainableSplits, wholeSplit } from '../../../core/ingest';
import { loadSpecFile } from '../../../core/spec/load';

/** Train up to day 8, validation up to day 9, test after: times in ms. */
const day = (d: number) => d * 86_400_000;
const bounds = { trainEnd: day(8), validationEnd: day(9) };
const rows = (
  first: number | null,
  last: number | null,
  extra: { failing?: number; untimed?: number } = {},
) => ({
  rows: 100,
  failing: extra.failing ?? 0,
  first,
  last,
  untimed: extra.untimed ?? 0,
});

describe('the split a staged file falls in whole', () => {
  it('is the split of its earliest and latest time when both fall in it, boundaries included', () => {
    expect(wholeSplit(rows(day(1), day(8)), bounds)).toBe('train');
    expect(wholeSplit(rows(day(8) + 1, day(9)), bounds)).toBe('validation');
    expect(wholeSplit(rows(day(9) + 1, day(20)), bounds)).toBe('test');
  });

  it('is none when the file straddles a boundary', () => {
    expect(wholeSplit(rows(day(7), day(8) + 1), bounds)).toBeUndefined();
    expect(wholeSplit(rows(day(1), day(20)), bounds)).toBeUndefined();
  });

  it('is none when a row failed validation, since that row must not be curated', () => {
    expect(wholeSplit(rows(day(1), day(2), { failing: 1 }), bounds)).toBeUndefined();
  });

  it('puts rows without a time in test, as the split SQL ranks them last', () => {
    expect(wholeSplit(rows(null, null, { untimed: 100 }), bounds)).toBe('test');
    expect(wholeSplit(rows(day(10), day(11), { untimed: 3 }), bounds)).toBe('test');
    expect(wholeSplit(rows(day(1), day(2), { untimed: 3 }), bounds)).toBeUndefined();
  });

  it('is none for an empty file, or one whose times are unknown', () => {
    expect(wholeSplit({ ...rows(day(1), day(2)), rows: 0 }, bounds)).toBeUndefined();
    expect(wholeSplit(rows(null, null), bounds)).toBeUndefined();
  });
});

describe('a staged file curated as train before the boundary is known', () => {
  it('is one whose good, timed rows all come before the earliest the boundary can be, train whatever it turns out to be', () => {
    const earliest = day(8);
    const before = rows(day(1), day(8) - 1);
    expect(trainBefore(before, earliest)).toBe(true);
    for (const trainEnd of [day(8), day(8) + 1, day(30)])
      expect(wholeSplit(before, { trainEnd, validationEnd: trainEnd + day(1) })).toBe('train');
  });

  it('is not one that reaches the earliest boundary, holds a failing or untimed row, or is empty', () => {
    const earliest = day(8);
    expect(trainBefore(rows(day(1), day(8)), earliest)).toBe(false);
    expect(trainBefore(rows(day(1), day(2), { failing: 1 }), earliest)).toBe(false);
    expect(trainBefore(rows(day(1), day(2), { untimed: 1 }), earliest)).toBe(false);
    expect(trainBefore(rows(null, null, { untimed: 100 }), earliest)).toBe(false);
    expect(trainBefore({ ...rows(day(1), day(2)), rows: 0 }, earliest)).toBe(false);
  });
});

describe('the staged files that can hold the time at a rank', () => {
  /** Ten files of 100 rows, each a day after the one before. */
  const inOrder = Array.from({ length: 10 }, (_, i) => ({ rows: 100, first: day(i), last: day(i) + 1000 }));

  it('is the one file holding that rank when the files follow each other in time', () => {
    const { read, windows } = rankWindows(inOrder, 0, [799, 899]);
    expect(read.flatMap((r, i) => (r ? [i] : []))).toEqual([7, 8]);
    // Every earlier file not read is counted instead.
    expect(windows).toEqual([
      { rank: 799, before: 700, from: day(7) },
      { rank: 899, before: 700, from: day(8) },
    ]);
  });

  it('reads every file whose times reach into the span the rank can lie in', () => {
    const overlapping = [...inOrder];
    // File 6 runs on into day 8: the rows of day 7 may come before or after some of its rows.
    overlapping[6] = { rows: 100, first: day(6), last: day(8) };
    const { read, windows } = rankWindows(overlapping, 0, [799]);
    expect(read.flatMap((r, i) => (r ? [i] : []))).toEqual([6, 7, 8]);
    // No more than 700 rows can come before day 7; file 6 is read, so only files 0-5 are counted.
    expect(windows[0]).toEqual({ rank: 799, before: 600, from: day(7) });
  });

  it('reads from the start when rows of unknown time could hold the rank, and skips empty files', () => {
    const withEmpty = [{ rows: 0, first: 0, last: 0 }, ...inOrder];
    const { read, windows } = rankWindows(withEmpty, 50, [20, 120]);
    expect(read[0]).toBe(false);
    // 50 rows of unknown time could be the earliest: rank 20 lies anywhere up to file 0's end.
    expect(windows[0]).toEqual({ rank: 20, before: 0, from: Number.NEGATIVE_INFINITY });
    expect(read.slice(1, 3)).toEqual([true, true]);
    expect(windows[1]?.before).toBe(0);
  });
});

describe('curated rows that cannot be trained on', () => {
  const flights = loadSpecFile('pipelines/flights.yml');
  const penguins = loadSpecFile('pipelines/penguins.yml');

  it('are none while train and test hold rows, validation empty or not', () => {
    expect(untrainableSplits(flights, { train: 8, validation: 1, test: 1 })).toBeUndefined();
    expect(untrainableSplits(flights, { train: 9, validation: 0, test: 1 })).toBeUndefined();
  });

  it('are those of an empty test or train split, with why a split by time or hash leaves one empty', () => {
    expect(untrainableSplits(flights, { train: 10, validation: 0, test: 0 })).toBe(
      'the test split is empty: split by time, rows of one time stay in one split, and the 10 rows curated have too few times to fill every split',
    );
    expect(untrainableSplits(penguins, { train: 0, validation: 1, test: 0 })).toBe(
      'the train and test splits are empty: split by hash, the 1 row curated is too few to fill every split',
    );
  });
});
