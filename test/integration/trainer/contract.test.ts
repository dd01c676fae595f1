import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { onnx } from 'onnx-proto';
import { main } from '../../../cli/main';
import { packBundle, parseManifest, readBundle } from '../../../core/model';
import { runTraining } from '../../../trainers/gbdt/train';
import { datasetPath } from '../../support/datasets';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'mlpipe-trainer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sql = async (statement: string) => {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  await connection.run(statement);
  connection.closeSync();
  db.closeSync();
};

/** A SageMaker-style job folder with penguins split 80/20 into train and validation. */
const jobFolder = async (
  name: string,
  hyperparameters: Record<string, string>,
  format: 'parquet' | 'csv',
) => {
  const root = join(work, name);
  for (const channel of ['train', 'validation'])
    mkdirSync(join(root, 'input/data', channel), { recursive: true });
  mkdirSync(join(root, 'input/config'), { recursive: true });
  const source = `read_json('${datasetPath('penguins.json')}', format = 'array')`;
  const options = format === 'parquet' ? '(FORMAT parquet)' : '(FORMAT csv, HEADER true)';
  const ext = format === 'parquet' ? 'parquet' : 'csv';
  await sql(
    `COPY (SELECT * FROM ${source} WHERE hash("Beak Length (mm)" || "Island" || "Body Mass (g)") % 5 <> 0) TO '${root}/input/data/train/part-0.${ext}' ${options}`,
  );
  await sql(
    `COPY (SELECT * FROM ${source} WHERE hash("Beak Length (mm)" || "Island" || "Body Mass (g)") % 5 = 0) TO '${root}/input/data/validation/part-0.${ext}' ${options}`,
  );
  writeFileSync(join(root, 'input/config/hyperparameters.json'), JSON.stringify(hyperparameters));
  return root;
};

const penguinParams = {
  objective: 'multi:softprob',
  num_class: '3',
  num_round: '60',
  max_depth: '4',
  eta: '0.2',
  target: 'Species',
  early_stopping_rounds: '10',
  pipeline: 'penguins',
};

const fileHash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('the SageMaker training contract', () => {
  it('trains from Parquet channels and writes model.onnx, manifest.json and metric lines', async () => {
    const root = await jobFolder('parquet', penguinParams, 'parquet');
    const lines: string[] = [];
    expect(await runTraining(root, { log: (l) => lines.push(l), version: 'penguins-1' })).toBe(0);
    const manifest = parseManifest(readFileSync(join(root, 'model/manifest.json'), 'utf8'), 'manifest');
    expect(manifest).toMatchObject({
      pipeline: 'penguins',
      version: 'penguins-1',
      task: 'multiclass',
      classes: ['Adelie', 'Chinstrap', 'Gentoo'],
      inputs: [
        'Beak Length (mm)',
        'Beak Depth (mm)',
        'Flipper Length (mm)',
        'Body Mass (g)',
        'Island',
        'Sex',
      ].sort((a, b) => manifestOrder(a) - manifestOrder(b)),
    });
    expect(manifest.onnx.sha256).toBe(fileHash(join(root, 'model/model.onnx')));
    expect(manifest.lineage.data.train?.rows).toBeGreaterThan(200);
    const accuracy = lines.find((l) => l.startsWith('validation-accuracy='));
    expect(Number(accuracy?.split('=')[1])).toBeGreaterThan(0.9);
    expect(lines).toContain(`validation-f1=${manifest.metrics['validation:f1']?.toFixed(6)}`);
  });

  it('trains from CSV channels through `mlpipe train --root` and exits 0', async () => {
    const root = await jobFolder('csv', penguinParams, 'csv');
    const { stdout } = await run('node', ['bin/mlpipe.js', 'train', '--root', root]);
    expect(Number(/validation-accuracy=([\d.]+)/.exec(stdout)?.[1])).toBeGreaterThan(0.9);
    expect(existsSync(join(root, 'model/model.onnx'))).toBe(true);
  });

  it.each([
    [
      { ...penguinParams, num_round: 'many' },
      'HyperparameterError: hyperparameter num_round: expected a whole number',
    ],
    [{ ...penguinParams, target: 'species' }, 'DatasetError: train channel: no column "species"'],
    [
      { ...penguinParams, num_class: '2' },
      'HyperparameterError: hyperparameter num_class is 2, but the train channel has 3 classes',
    ],
  ])('writes why it failed to output/failure and exits 1 (%#)', async (params, reason) => {
    const root = await jobFolder(`bad-${Math.random().toString(36).slice(2)}`, params, 'parquet');
    await expect(run('node', ['bin/mlpipe.js', 'train', '--root', root])).rejects.toMatchObject({ code: 1 });
    expect(readFileSync(join(root, 'output/failure'), 'utf8')).toContain(reason);
  });

  it('fails clearly when the train channel is missing', async () => {
    const root = join(work, 'empty');
    mkdirSync(join(root, 'input/config'), { recursive: true });
    writeFileSync(join(root, 'input/config/hyperparameters.json'), '{}');
    expect(await runTraining(root, { log: () => {} })).toBe(1);
    expect(readFileSync(join(root, 'output/failure'), 'utf8')).toContain('input/data/train');
  });

  it('resumes a stopped spot job from its checkpoint and ends with the same model as an uninterrupted one', async () => {
    const params = {
      ...penguinParams,
      num_round: '40',
      early_stopping_rounds: '0',
      subsample: '0.8',
      checkpoint_rounds: '5',
    };
    const whole = await jobFolder('whole', params, 'parquet');
    expect(await runTraining(whole, { log: () => {}, version: 'v' })).toBe(0);
    // The "stopped" job got as far as round 15; its checkpoint folder is all that survives.
    const stopped = await jobFolder('stopped', { ...params, num_round: '15' }, 'parquet');
    expect(await runTraining(stopped, { log: () => {}, version: 'v' })).toBe(0);
    const resumed = await jobFolder('resumed', params, 'parquet');
    cpSync(join(stopped, 'checkpoints'), join(resumed, 'checkpoints'), { recursive: true });
    const lines: string[] = [];
    expect(await runTraining(resumed, { log: (l) => lines.push(l), version: 'v' })).toBe(0);
    expect(lines).toContain('resuming from the checkpoint of round 15');
    expect(fileHash(join(resumed, 'model/model.onnx'))).toBe(fileHash(join(whole, 'model/model.onnx')));
  });
});

describe('categorical features', () => {
  it("splits the feature plan's categories as sets, even when their names are numbers", async () => {
    // Zones 1–9, with late arrivals in zones 2, 5 and 7: no threshold on the zone number separates them.
    const root = join(work, 'zones');
    for (const dir of ['input/data/train', 'input/data/config', 'input/config'])
      mkdirSync(join(root, dir), { recursive: true });
    const rows = Array.from({ length: 900 }, (_, i) => ({ zone: (i % 9) + 1, x: (i * 7919) % 100 }));
    const late = (zone: number) => ([2, 5, 7].includes(zone) ? 1 : 0);
    writeFileSync(
      join(root, 'input/data/train/rows.csv'),
      `zone,x,late\n${rows.map((r) => `${r.zone},${r.x},${late(r.zone)}`).join('\n')}\n`,
    );
    const vocabulary = Array.from({ length: 9 }, (_, i) => String(i + 1));
    const feature = (name: string, kind: 'numeric' | 'category') => ({
      name,
      from: name,
      column: name,
      type: 'integer',
      kind,
      fill: null,
      ...(kind === 'category' ? { vocabulary } : {}),
    });
    writeFileSync(
      join(root, 'input/data/config/features.json'),
      JSON.stringify({
        format: 'mlpipe-features/1',
        pipeline: 'zones',
        features: [feature('zone', 'category'), feature('x', 'numeric')],
        label: { from: 'late', column: 'late', task: 'binary', type: 'integer' },
        trainRows: rows.length,
      }),
    );
    writeFileSync(
      join(root, 'input/config/hyperparameters.json'),
      JSON.stringify({ objective: 'binary:logistic', target: 'late', num_round: '10', max_depth: '1' }),
    );
    expect(await runTraining(root, { log: () => {} })).toBe(0);
    const manifest = parseManifest(readFileSync(join(root, 'model/manifest.json'), 'utf8'), 'manifest');
    expect(manifest.encodings.find((e) => e.column === 'zone')).toMatchObject({ kind: 'category' });
    // Set splits need ONNX's TreeEnsemble (ai.onnx.ml 5), whose BRANCH_MEMBER holds them.
    const model = onnx.ModelProto.decode(readFileSync(join(root, 'model/model.onnx')));
    expect(model.graph?.node?.map((n) => n.opType)).toContain('TreeEnsemble');
    const input = join(root, 'zones.jsonl');
    writeFileSync(input, `${[5, 4, 7, 8].map((zone) => JSON.stringify({ zone, x: 50 })).join('\n')}\n`);
    const out: string[] = [];
    expect(
      await main(['predict', '--model', join(root, 'model'), input], {
        out: (l) => out.push(l),
        err: () => {},
      }),
    ).toBe(0);
    expect(out.map((l) => (JSON.parse(l) as { prediction: string }).prediction)).toEqual([
      '1',
      '0',
      '1',
      '0',
    ]);
  });
});

/** `mlpipe predict` with a model and a file: its exit code and the lines it wrote to each stream. */
const predict = async (model: string, file: string) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['predict', '--model', model, file], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out, err };
};

describe('mlpipe predict', () => {
  it('scores every row of a file with a model.tar.gz, one JSON line each', async () => {
    const root = await jobFolder('predict', penguinParams, 'parquet');
    expect(await runTraining(root, { log: () => {} })).toBe(0);
    const tarball = join(root, 'model.tar.gz');
    await packBundle(join(root, 'model'), tarball);
    const { code, out } = await predict(tarball, datasetPath('penguins.json'));
    expect(code).toBe(0);
    expect(out).toHaveLength(344);
    const first = JSON.parse(out[0] as string) as {
      prediction: string;
      probabilities: Record<string, number>;
    };
    expect(['Adelie', 'Chinstrap', 'Gentoo']).toContain(first.prediction);
    const total = Object.values(first.probabilities).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 4);
    expect(out.map((l) => (JSON.parse(l) as { row: number }).row)).toEqual(out.map((_, i) => i + 1));
  });

  it("refuses each row that breaks the pipeline's spec by row, field and reason, and scores the rest", async () => {
    const root = await jobFolder('bad-rows', penguinParams, 'parquet');
    expect(await runTraining(root, { log: () => {} })).toBe(0);
    const penguins = JSON.parse(readFileSync(datasetPath('penguins.json'), 'utf8')) as Record<
      string,
      unknown
    >[];
    const rows = penguins.slice(0, 4);
    rows[1] = { ...rows[1], 'Flipper Length (mm)': 'long' };
    rows[2] = { ...rows[2], Island: 'Atlantis' };
    const input = join(root, 'rows.json');
    writeFileSync(input, JSON.stringify(rows));
    const { code, out, err } = await predict(join(root, 'model'), input);
    expect(code).toBe(1);
    const lines = out.map((l) => JSON.parse(l) as { row: number; prediction?: string; problems?: unknown });
    expect(lines.map((l) => [l.row, l.prediction !== undefined, l.problems])).toEqual([
      [1, true, undefined],
      [2, false, [{ field: 'Flipper Length (mm)', reason: '"long" is not a number' }]],
      [3, false, [{ field: 'Island', reason: '"Atlantis" is not one of Biscoe, Dream, Torgersen' }]],
      [4, true, undefined],
    ]);
    expect(err).toEqual([
      `mlpipe predict: 2 of 4 rows of ${input} break the penguins spec and were not scored; their lines name the field and reason`,
    ]);
  });

  it('refuses a file that lacks a column the model reads in every row, naming the columns', async () => {
    const root = await jobFolder('wrong-file', penguinParams, 'parquet');
    expect(await runTraining(root, { log: () => {} })).toBe(0);
    const input = join(root, 'cars.jsonl');
    writeFileSync(input, `${JSON.stringify({ Name: 'chevrolet chevelle', Island: 'Dream' })}\n`);
    const { code, out, err } = await predict(join(root, 'model'), input);
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err[0]).toContain(`${input}: no row has the columns "Beak Length (mm)"`);
    expect(err[0]).toContain('"Sex"; the model reads "Island"');
    expect(err[0]).not.toContain('no row has the columns "Island"');
  });

  it('refuses a model whose ONNX file does not match its manifest', async () => {
    const root = await jobFolder('tampered', penguinParams, 'parquet');
    expect(await runTraining(root, { log: () => {} })).toBe(0);
    const onnx = readFileSync(join(root, 'model/model.onnx'));
    onnx[onnx.length - 1] = (onnx[onnx.length - 1] ?? 0) ^ 0xff;
    writeFileSync(join(root, 'model/model.onnx'), onnx);
    await expect(readBundle(join(root, 'model'))).rejects.toThrow('refusing to load it');
    const { code, err } = await predict(join(root, 'model'), datasetPath('penguins.json'));
    expect(code).toBe(1);
    expect(err[0]).toContain('ModelIntegrityError');
  });
});

/** Inputs keep the channel's column order. */
const COLUMN_ORDER = [
  'Species',
  'Island',
  'Beak Length (mm)',
  'Beak Depth (mm)',
  'Flipper Length (mm)',
  'Body Mass (g)',
  'Sex',
];
const manifestOrder = (name: string) => COLUMN_ORDER.indexOf(name);
