import {
  type Channel,
  type Checkpoint,
  predict,
  predictMargins,
  train,
} from '../../../trainers/gbdt/booster';
import { fitEncoder, prepare, type Table } from '../../../trainers/gbdt/dataset';
import { parseHyperparameters } from '../../../trainers/gbdt/hyperparameters';

/** A deterministic generator for test data (the trainer's own randomness is tested separately). */
const random = (seed: number) => () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

const channel = (columns: number[][], label: number[]): Channel => ({
  features: columns.map((c) => Float32Array.from(c)),
  label: Float64Array.from(label),
  rows: label.length,
});

const rowMatrix = (columns: number[][]): Float32Array => {
  const rows = columns[0]?.length ?? 0;
  const out = new Float32Array(rows * columns.length);
  columns.forEach((c, f) => {
    c.forEach((v, r) => {
      out[r * columns.length + f] = v;
    });
  });
  return out;
};

describe('the gradient-boosted trees', () => {
  it('fits a regression target', () => {
    const next = random(1);
    const x = Array.from({ length: 2000 }, () => next() * 10);
    const y = x.map((v) => 2 * v + 1);
    const booster = train({
      params: parseHyperparameters({ num_round: '100', eta: '0.3' }),
      train: channel([x], y),
    });
    const values = predict(booster, Float32Array.from([2.5, 7.5]), 2).values ?? [];
    expect(values[0]).toBeCloseTo(6, 0);
    expect(values[1]).toBeCloseTo(16, 0);
  });

  it('separates a binary rule and gives probabilities that sum to one', () => {
    const next = random(2);
    const a = Array.from({ length: 2000 }, () => next());
    const b = Array.from({ length: 2000 }, () => next());
    const y = a.map((v, i) => (v + (b[i] as number) > 1 ? 1 : 0));
    const booster = train({
      params: parseHyperparameters({ objective: 'binary:logistic', num_round: '60', max_depth: '4' }),
      train: channel([a, b], y),
    });
    const p = predict(booster, Float32Array.from([0.9, 0.9, 0.1, 0.1]), 2).probabilities ?? [];
    expect(p[1]).toBeGreaterThan(0.9);
    expect(p[3]).toBeLessThan(0.1);
    expect((p[0] as number) + (p[1] as number)).toBeCloseTo(1, 10);
  });

  it('learns three classes with softmax', () => {
    const next = random(3);
    const x = Array.from({ length: 1500 }, () => next() * 3);
    const y = x.map((v) => Math.floor(v));
    const booster = train({
      params: parseHyperparameters({ objective: 'multi:softprob', num_class: '3', num_round: '30' }),
      train: channel([x], y),
    });
    const p = predict(booster, Float32Array.from([0.5, 1.5, 2.5]), 3).probabilities ?? [];
    expect(
      [0, 1, 2].map((r) =>
        [0, 1, 2].reduce((best, c) => ((p[r * 3 + c] as number) > (p[r * 3 + best] as number) ? c : best), 0),
      ),
    ).toEqual([0, 1, 2]);
  });

  it('learns where missing values belong instead of treating them as zero', () => {
    const next = random(4);
    const x = Array.from({ length: 2000 }, (_, i) => (i % 4 === 0 ? Number.NaN : next()));
    // Missing means "high", as a missing-reading sensor might; zero-filling would put it with the lows.
    const y = x.map((v) => (Number.isNaN(v) ? 10 : v < 0.5 ? 0 : 5));
    const booster = train({
      params: parseHyperparameters({ num_round: '50', eta: '0.3' }),
      train: channel([x], y),
    });
    const values = predict(booster, Float32Array.from([Number.NaN, 0.1, 0.9]), 3).values ?? [];
    expect(values[0]).toBeCloseTo(10, 0);
    expect(values[1]).toBeCloseTo(0, 0);
    expect(values[2]).toBeCloseTo(5, 0);
  });

  it('splits categories as sets, so one split can group any names', () => {
    // 40 airports in frequency order; the label favours every third one, which no threshold on the
    // codes separates in one split.
    const names = Array.from({ length: 40 }, (_, i) => `airport-${String(i).padStart(2, '0')}`);
    const rows = names.flatMap((name, i) => Array.from({ length: 40 + i }, () => name));
    const label = rows.map((name) => (Number(name.slice(-2)) % 3 === 0 ? 1 : 0));
    const table: Table = { names: ['origin', 'label'], columns: [rows, label], rows: rows.length };
    const params = parseHyperparameters({
      objective: 'binary:logistic',
      num_round: '20',
      max_depth: '1',
      eta: '0.5',
    });
    const encoder = fitEncoder(table, 'label', params.objective);
    const data = prepare(encoder, table);
    const booster = train({ params, train: data });
    const encoding = encoder.encodings[0];
    const codeOf = (name: string) => (encoding?.kind === 'category' ? encoding.categories.indexOf(name) : -1);
    const favoured = names.filter((_, i) => i % 3 === 0).map(codeOf);
    expect(booster.trees[0]).toMatchObject({ feature: [0, -1, -1] });
    expect(booster.trees[0]?.categories[0]).toEqual([...favoured].sort((a, b) => a - b));
    const p = predict(booster, Float32Array.from([codeOf('airport-03'), codeOf('airport-04')]), 2);
    expect(p.probabilities?.[1]).toBeGreaterThan(0.85);
    expect(p.probabilities?.[3]).toBeLessThan(0.15);
  });

  it('sends at most max_cat_threshold categories left in one set split', () => {
    const names = Array.from({ length: 40 }, (_, i) => `airport-${String(i).padStart(2, '0')}`);
    const rows = names.flatMap((name, i) => Array.from({ length: 40 + i }, () => name));
    const label = rows.map((name) => (Number(name.slice(-2)) % 3 === 0 ? 1 : 0));
    const table: Table = { names: ['origin', 'label'], columns: [rows, label], rows: rows.length };
    const sets = (limit: string) => {
      const params = parseHyperparameters({
        objective: 'binary:logistic',
        num_round: '5',
        max_depth: '2',
        max_cat_threshold: limit,
      });
      const encoder = fitEncoder(table, 'label', params.objective);
      const booster = train({
        params,
        train: prepare(encoder, table),
      });
      return booster.trees.flatMap((t) => t.categories.filter((set) => set !== null));
    };
    expect(Math.max(...sets('32').map((set) => set.length))).toBe(14); // the 14 favoured airports at once
    const limited = sets('4');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every((set) => set.length <= 4)).toBe(true);
    expect(() => sets('0')).toThrow(
      'hyperparameter max_cat_threshold: expected a whole number in [1, 254], got "0"',
    );
  });

  it('codes categories by frequency, the most frequent first', () => {
    const names = Array.from({ length: 40 }, (_, i) => `airport-${String(i).padStart(2, '0')}`);
    // airport-00 appears once, airport-39 forty times; the label favours the rare ones.
    const rows = names.flatMap((name, i) => Array.from({ length: i + 1 }, () => name));
    const label = rows.map((name) => (name < 'airport-10' ? 1 : 0));
    const table: Table = { names: ['origin', 'label'], columns: [rows, label], rows: rows.length };
    const encoder = fitEncoder(table, 'label', 'binary:logistic');
    const encoding = encoder.encodings[0];
    expect(encoding?.kind === 'category' && encoding.categories.slice(0, 3)).toEqual([
      'airport-39',
      'airport-38',
      'airport-37',
    ]);
  });

  it('is deterministic for a seed with row and column subsampling, and the seed matters', () => {
    const next = random(5);
    const cols = [0, 1, 2, 3].map(() => Array.from({ length: 1000 }, () => next()));
    const y = (cols[0] as number[]).map((v, i) => v + 2 * ((cols[2] as number[])[i] as number));
    const run = (seed: string) =>
      train({
        params: parseHyperparameters({ num_round: '20', subsample: '0.7', colsample_bytree: '0.5', seed }),
        train: channel(cols, y),
      });
    expect(JSON.stringify(run('7').trees)).toBe(JSON.stringify(run('7').trees));
    expect(JSON.stringify(run('7').trees)).not.toBe(JSON.stringify(run('8').trees));
  });

  it('grows the same trees on one thread as on two, on data large enough to use both', () => {
    const next = random(9);
    const cols = [0, 1, 2].map(() => Array.from({ length: 150_000 }, () => next()));
    const y = (cols[0] as number[]).map((v, i) => v * 3 + ((cols[1] as number[])[i] as number));
    const params = parseHyperparameters({ num_round: '3', max_depth: '3' });
    const one = train({ params, train: channel(cols, y), threads: 1 });
    const two = train({ params, train: channel(cols, y), threads: 2 });
    expect(JSON.stringify(two.trees)).toBe(JSON.stringify(one.trees));
  });

  it('grows the same trees with the WebAssembly kernels as with the JavaScript ones', () => {
    const next = random(11);
    // Missing values (routed by a learned direction), a feature subset per tree, and set splits on
    // 300 categories (more than there are bins), on both threads.
    const cols = [0, 1, 2, 3].map(() =>
      Array.from({ length: 120_000 }, () => (next() < 0.1 ? Number.NaN : next())),
    );
    cols.push(Array.from({ length: 120_000 }, () => Math.floor(next() ** 2 * 300)));
    const y = (cols[0] as number[]).map((v, i) =>
      (Number.isNaN(v) ? 0.9 : v) +
        ((cols[2] as number[])[i] as number) +
        (((cols[4] as number[])[i] as number) % 7) / 10 >
      1.3
        ? 1
        : 0,
    );
    const params = parseHyperparameters({
      objective: 'binary:logistic',
      num_round: '4',
      max_depth: '5',
      colsample_bytree: '0.8',
    });
    const categoryCounts = [0, 0, 0, 0, 300];
    const trees = (threads: number, kernels: 'webassembly' | 'javascript') =>
      JSON.stringify(
        train({ params, train: { ...channel(cols, y), categoryCounts }, threads, kernels }).trees,
      );
    const reference = trees(1, 'javascript');
    const parsed = JSON.parse(reference) as { categories: (number[] | null)[] }[];
    expect(parsed).toHaveLength(4);
    const sets = parsed.flatMap((t) => t.categories.filter((set) => set !== null));
    expect(sets.length).toBeGreaterThan(0);
    // The rarest categories (254 and up) share the last bin, which is never ranked into a set.
    expect(sets.flat().every((code) => code < 254)).toBe(true);
    expect(trees(2, 'webassembly')).toBe(reference);
    expect(trees(1, 'webassembly')).toBe(reference);
    expect(trees(2, 'javascript')).toBe(reference);
  });

  it('stops early when the validation loss stops improving and keeps the best round', () => {
    const next = random(6);
    const x = Array.from({ length: 500 }, () => next());
    const noise = Array.from({ length: 500 }, () => next());
    const booster = train({
      params: parseHyperparameters({
        num_round: '500',
        eta: '0.3',
        early_stopping_rounds: '5',
        max_depth: '6',
      }),
      train: channel([x], noise),
      validation: channel(
        [x.map(() => next())],
        x.map(() => next()),
      ),
    });
    expect(booster.bestRound).toBeLessThan(100);
    expect(booster.trees).toHaveLength(booster.bestRound + 1);
    // The last round's margins are not the kept model's: none are handed out.
    expect(booster.trainMargins).toBeUndefined();
    expect(booster.validationMargins).toBeUndefined();
  });

  it('hands out the margins training ended with, the very numbers scoring the rows again gives', () => {
    const next = random(12);
    const cols = [0, 1].map(() => Array.from({ length: 3_000 }, () => (next() < 0.05 ? Number.NaN : next())));
    const y = (cols[0] as number[]).map((v) => (v > 0.5 ? 2 : v > 0.2 ? 1 : 0));
    const valid = [0, 1].map(() => Array.from({ length: 400 }, () => next()));
    const booster = train({
      params: parseHyperparameters({ objective: 'multi:softprob', num_class: '3', num_round: '8' }),
      train: channel(cols, y),
      validation: channel(
        valid,
        (valid[0] as number[]).map((v) => (v > 0.5 ? 2 : 0)),
      ),
    });
    expect(booster.trainMargins).toEqual(predictMargins(booster, rowMatrix(cols), 3_000));
    expect(booster.validationMargins).toEqual(predictMargins(booster, rowMatrix(valid), 400));
  });

  it('resumes from a checkpoint to the very model an uninterrupted run ends with', () => {
    const next = random(7);
    const cols = [0, 1].map(() => Array.from({ length: 800 }, () => next()));
    const y = (cols[0] as number[]).map((v, i) => (v > ((cols[1] as number[])[i] as number) ? 1 : 0));
    const params = parseHyperparameters({
      objective: 'binary:logistic',
      num_round: '30',
      subsample: '0.8',
      colsample_bytree: '0.5',
      checkpoint_rounds: '10',
      seed: '3',
    });
    const checkpoints: Checkpoint[] = [];
    const whole = train({ params, train: channel(cols, y), onCheckpoint: (c) => checkpoints.push(c) });
    const afterTen = checkpoints.find((c) => c.round === 9);
    expect(afterTen?.trees).toHaveLength(10);
    const resumed = train({ params, train: channel(cols, y), ...(afterTen ? { resumeFrom: afterTen } : {}) });
    expect(JSON.stringify(resumed.trees)).toBe(JSON.stringify(whole.trees));
    expect(predict(resumed, rowMatrix(cols), 800)).toEqual(predict(whole, rowMatrix(cols), 800));
  });

  it('refuses a checkpoint made with other settings', () => {
    const data = channel([[1, 2, 3, 4]], [1, 2, 3, 4]);
    const checkpoints: Checkpoint[] = [];
    train({
      params: parseHyperparameters({ num_round: '10' }),
      train: data,
      onCheckpoint: (c) => checkpoints.push(c),
    });
    const other = parseHyperparameters({ num_round: '10', max_depth: '2' });
    expect(() =>
      train({ params: other, train: data, ...(checkpoints[0] ? { resumeFrom: checkpoints[0] } : {}) }),
    ).toThrow('the checkpoint was made with other data or hyperparameters');
  });

  it('says so when there is nothing to train on', () => {
    expect(() => train({ params: parseHyperparameters({}), train: channel([[]], []) })).toThrow(
      'the train channel has no usable rows',
    );
  });
});
