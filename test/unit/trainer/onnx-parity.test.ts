import { readFileSync } from 'node:fs';
import { copyEncodings, createScorer, encodeRows, sha256 } from '../../../core/model';
import { predict, train } from '../../../trainers/gbdt/booster';
import { fitEncoder, prepare, type Table } from '../../../trainers/gbdt/dataset';
import { type Objective, parseHyperparameters } from '../../../trainers/gbdt/hyperparameters';
import { toOnnx } from '../../../trainers/gbdt/onnx';
import { datasetPath, jsonDataset } from '../../support/datasets';

const penguins = jsonDataset('penguins.json');
const cars = jsonDataset('cars.json');

const tableOf = (rows: readonly Record<string, unknown>[]): Table => {
  const names = Object.keys(rows[0] ?? {});
  return { names, columns: names.map((n) => rows.map((r) => r[n])), rows: rows.length };
};

/** Rows the model never saw: missing numbers, an unknown category, a missing category. */
const oddRows = (base: Record<string, unknown>): Record<string, unknown>[] => {
  const keys = Object.keys(base);
  return [
    Object.fromEntries(keys.map((k) => [k, null])),
    { ...base, [keys.find((k) => typeof base[k] === 'string') ?? keys[0] ?? '']: 'never seen' },
  ];
};

const parity = async (
  rows: Record<string, unknown>[],
  target: string,
  objective: Objective,
  extra: Record<string, string>,
) => {
  const params = parseHyperparameters({ objective, target, num_round: '40', max_depth: '5', ...extra });
  const table = tableOf(rows);
  const encoder = fitEncoder(table, target, objective, { drop: params.drop });
  const booster = train({
    params,
    train: prepare(encoder, table),
  });
  const onnx = toOnnx(booster, encoder.classes, 'test');
  const sets = booster.trees.flatMap((t) =>
    t.categories.flatMap((set, node) =>
      set ? [{ set, count: booster.categoryCounts[t.feature[node] as number] as number }] : [],
    ),
  );
  const setSplits = sets.length;
  // Sets whose other side is shorter: exported as that side, with the branches swapped.
  const swapped = sets.filter(({ set, count }) => count - set.length < set.length).length;
  const task =
    objective === 'reg:squarederror'
      ? 'regression'
      : objective === 'binary:logistic'
        ? 'binary'
        : 'multiclass';
  const scorer = await createScorer({
    manifest: {
      format: 'mlpipe-model/1',
      pipeline: null,
      version: 'test',
      task,
      inputs: encoder.encodings.map((e) => e.column),
      encodings: copyEncodings(encoder.encodings),
      ...(encoder.classes ? { classes: [...encoder.classes] } : {}),
      metrics: {},
      lineage: { trainer: { image: 'test', hyperparameters: {} }, data: {}, createdAt: '' },
      onnx: { file: 'model.onnx', sha256: sha256(onnx), inputName: 'input', outputs: [] },
    },
    onnx,
  });
  const all = [...rows, ...oddRows(rows[0] ?? {})];
  const matrix = encodeRows(encoder.encodings, all);
  const expected = predict(booster, matrix, all.length);
  const actual = await scorer.scoreRows(all);
  await scorer.release();
  return { expected, actual, classes: encoder.classes, setSplits, swapped };
};

describe('the ONNX export', () => {
  it('scores a multiclass model exactly as the trainer does, unseen and missing values included', async () => {
    const { expected, actual, classes, setSplits } = await parity(penguins, 'Species', 'multi:softprob', {
      num_class: '3',
    });
    expect(setSplits).toBeGreaterThan(0); // island and sex: exported with BRANCH_MEMBER
    const want = expected.probabilities ?? [];
    const got = actual.probabilities ?? [];
    expect(got).toHaveLength(want.length);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i] as number, 5);
    const argmax = (r: number) =>
      [0, 1, 2].reduce((b, c) => ((want[r * 3 + c] as number) > (want[r * 3 + b] as number) ? c : b), 0);
    expect(actual.predictions).toEqual(actual.predictions.map((_, r) => classes?.[argmax(r)]));
  });

  it('scores the seattle-weather classes exactly as the trainer does', async () => {
    const [header, ...lines] = readFileSync(datasetPath('seattle-weather.csv'), 'utf8').trim().split('\n');
    const names = (header ?? '').split(',');
    const rows = lines.map((line) => {
      const cells = line.split(',');
      return Object.fromEntries(
        names.map((n, i) => [n, n === 'date' || n === 'weather' ? cells[i] : Number(cells[i])]),
      );
    });
    const { expected, actual, setSplits } = await parity(rows, 'weather', 'multi:softprob', {
      num_class: '5',
      drop: 'date',
    });
    expect(setSplits).toBe(0); // numbers only: thresholds alone
    const want = expected.probabilities ?? [];
    const got = actual.probabilities ?? [];
    expect(got).toHaveLength(want.length);
    const maxDiff = Math.max(...Array.from(want, (w, i) => Math.abs(w - (got[i] as number))));
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });

  it('scores a binary model exactly as the trainer does', async () => {
    const rows = cars.map((r) => ({
      ...r,
      efficient: (r.Miles_per_Gallon as number | null) === null ? null : (r.Miles_per_Gallon as number) > 25,
    }));
    const { expected, actual } = await parity(rows, 'efficient', 'binary:logistic', {
      drop: 'Name,Miles_per_Gallon',
    });
    const want = expected.probabilities ?? [];
    const got = actual.probabilities ?? [];
    expect(got).toHaveLength(want.length);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i] as number, 5);
  });

  it('scores set splits over more categories than bins exactly as the trainer does', async () => {
    // 300 airports (the rarest share the last bin), a label that favours every seventh one; and five
    // zones, four of them late, so a set split sends four left and is exported as the fifth.
    const next = ((seed: number) => () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    })(3);
    const rows = Array.from({ length: 6000 }, () => {
      const code = Math.floor(next() ** 2 * 300);
      const distance = Math.round(next() * 2000);
      const zone = Math.floor(next() * 5);
      return {
        origin: code === 5 ? null : `airport-${code}`,
        distance,
        zone: `zone-${zone}`,
        late: (code % 7 === 0 ? 0.5 : 0.1) + (distance > 1500 ? 0.2 : 0) + (zone < 4 ? 0.2 : 0) > next(),
      };
    });
    const { expected, actual, setSplits, swapped } = await parity(rows, 'late', 'binary:logistic', {});
    expect(setSplits).toBeGreaterThan(0);
    expect(swapped).toBeGreaterThan(0);
    const want = expected.probabilities ?? [];
    const got = actual.probabilities ?? [];
    expect(got).toHaveLength(want.length);
    const maxDiff = Math.max(...Array.from(want, (w, i) => Math.abs(w - (got[i] as number))));
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
    expect(actual.predictions).toEqual(
      actual.predictions.map((_, r) => ((want[r * 2 + 1] as number) > 0.5 ? '1' : '0')),
    );
  });

  it('scores a regression model exactly as the trainer does', async () => {
    const { expected, actual } = await parity(cars, 'Miles_per_Gallon', 'reg:squarederror', { drop: 'Name' });
    const want = expected.values ?? [];
    expect(actual.predictions).toHaveLength(want.length);
    const maxDiff = Math.max(
      ...actual.predictions.map((v, i) => Math.abs((v as number) - (want[i] as number))),
    );
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });
});
