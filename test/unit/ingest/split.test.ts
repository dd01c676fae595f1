import { wholeSplit } from '../../../core/ingest';

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
