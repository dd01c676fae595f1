import { RecentlyWritten } from '../../../functions/infer/scoring';

const prediction = (n: number) => ({ pipeline: 'flights', id: `r${n}`, modelVersion: 'v1' });

describe('RecentlyWritten', () => {
  it('remembers every one of the last `capacity` predictions, however many came before', () => {
    const written = new RecentlyWritten(1_000);
    for (let n = 0; n < 25_000; n++) written.add(prediction(n));
    for (let n = 25_000 - 1_000; n < 25_000; n++) expect(written.has(prediction(n))).toBe(true);
  });

  it('keeps every id while its tables grow from a few thousand slots to their full size', () => {
    const written = new RecentlyWritten(50_000);
    for (let n = 0; n < 120_000; n++) written.add(prediction(n));
    for (let n = 120_000 - 50_000; n < 120_000; n++) expect(written.has(prediction(n))).toBe(true);
    const remembered = Array.from({ length: 120_000 }, (_, n) => n).filter((n) => written.has(prediction(n)));
    expect(remembered.length).toBeLessThanOrEqual(100_000);
    expect(written.has(prediction(0))).toBe(false);
  });

  it('forgets predictions more than twice its capacity old, so an instance stays within its memory', () => {
    const written = new RecentlyWritten(1_000);
    for (let n = 0; n < 25_000; n++) written.add(prediction(n));
    const remembered = Array.from({ length: 25_000 }, (_, n) => n).filter((n) => written.has(prediction(n)));
    expect(remembered.length).toBeGreaterThanOrEqual(1_000);
    expect(remembered.length).toBeLessThanOrEqual(2_000);
    expect(written.has(prediction(0))).toBe(false);
  });

  it('counts ids of every pipeline and model version toward one capacity', () => {
    const written = new RecentlyWritten(1_000);
    const spread = (n: number) => ({
      pipeline: n % 2 === 0 ? 'flights' : 'penguins',
      id: `r${n}`,
      modelVersion: `v${n % 3}`,
    });
    for (let n = 0; n < 25_000; n++) written.add(spread(n));
    const remembered = Array.from({ length: 25_000 }, (_, n) => n).filter((n) => written.has(spread(n)));
    expect(remembered.length).toBeGreaterThanOrEqual(1_000);
    expect(remembered.length).toBeLessThanOrEqual(2_000);
    for (let n = 25_000 - 1_000; n < 25_000; n++) expect(written.has(spread(n))).toBe(true);
  });

  it('tells apart the same id under another model version or pipeline', () => {
    const written = new RecentlyWritten();
    expect(written.has(prediction(1))).toBe(false);
    written.add(prediction(1));
    expect(written.has(prediction(1))).toBe(true);
    expect(written.has({ ...prediction(1), modelVersion: 'v2' })).toBe(false);
    expect(written.has({ ...prediction(1), pipeline: 'penguins' })).toBe(false);
  });
});
