import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSchema, SCHEMA_FILE } from '../../../cli/commands/schema';
import {
  compiledSpecsFile,
  compileSpecs,
  durationSeconds,
  loadSpecs,
  parseSpec,
  pipelineNames,
  readCompiledSpecs,
  readPipelineSpec,
  SpecCatalog,
  SpecValidationError,
  UnknownPipelineError,
} from '../../../core/spec';

const PIPELINES = join(__dirname, '../../../pipelines');
const penguinsText = readFileSync(join(PIPELINES, 'penguins.yml'), 'utf8');

const problemsOf = (text: string, file = 'pipelines/penguins.yml'): string[] => {
  try {
    parseSpec(text, file);
  } catch (error) {
    if (error instanceof SpecValidationError) return error.message.split('\n');
    throw error;
  }
  return [];
};

describe('pipeline specs', () => {
  it('accepts the shipped penguins, cars and flights specs with their tasks', () => {
    const specs = loadSpecs(PIPELINES);
    expect(specs.get('penguins')?.target).toEqual({ column: 'Species', task: 'multiclass' });
    expect(specs.get('cars')?.target).toEqual({ column: 'Miles_per_Gallon', task: 'regression' });
    expect(specs.get('flights')?.target).toEqual({ column: 'delay', task: 'binary', positive: { gt: 15 } });
    expect(specs.get('flights')?.split).toMatchObject({ by: 'time', column: 'date' });
  });

  it('fills defaults a user may leave out', () => {
    const spec = parseSpec(penguinsText.replace(/^input:.*$/m, ''), 'pipelines/penguins.yml');
    expect(spec.input).toEqual({
      formats: ['csv', 'jsonl', 'json', 'parquet'],
      delimiter: ',',
      maxRejectRate: 0.05,
      unknownColumns: 'drop',
      nullValues: [],
    });
    expect(spec.features[0]).toMatchObject({ impute: 'none', maxCategories: 256 });
  });

  it('names the file, the path and the reason of a wrong value', () => {
    const text = penguinsText.replace('accuracy: { min: 0.9 }', 'accuracy: { min: high }');
    expect(problemsOf(text)).toEqual([
      'pipelines/penguins.yml: gate.metrics.accuracy.min: expected a number between 0 and 1, got "high"',
    ]);
  });

  it('refuses an empty text among the values read as missing, which the empty text already is', () => {
    const text = penguinsText.replace('nullValues: [NA]', 'nullValues: [NA, ""]');
    expect(problemsOf(text)).toEqual([
      'pipelines/penguins.yml: input.nullValues[1]: expected text that is not empty, got ""',
    ]);
  });

  it('reports a metric threshold outside 0 to 1 with the number it got', () => {
    const text = penguinsText.replace('accuracy: { min: 0.9 }', 'accuracy: { min: 90 }');
    expect(problemsOf(text)).toEqual([
      'pipelines/penguins.yml: gate.metrics.accuracy.min: expected a number between 0 and 1, got 90',
    ]);
  });

  it('lists every mistake at once, not only the first', () => {
    const text = penguinsText
      .replace('task: multiclass', 'task: clustering')
      .replace('train: 0.7', 'train: 0.9')
      .replace('from: Island', 'from: Islands')
      .replace('eta: 0.1 }', 'eta: 0.1 }\n  shards: 3');
    expect(problemsOf(text)).toEqual(
      expect.arrayContaining([
        'pipelines/penguins.yml: target.task: expected one of regression, binary, multiclass, got "clustering"',
        'pipelines/penguins.yml: trainer: unknown key "shards"',
      ]),
    );
    const fixed = text.replace('task: clustering', 'task: multiclass').replace('\n  shards: 3', '');
    expect(problemsOf(fixed)).toEqual([
      'pipelines/penguins.yml: split: train + validation + test must be 1, got 1.2',
      'pipelines/penguins.yml: features[0].from: no column named "Islands" in columns',
    ]);
  });

  it('refuses a feature computed from the target, which would leak the label', () => {
    const text = penguinsText.replace('from: Island, encode: category', 'from: Species, encode: category');
    expect(problemsOf(text)).toContain(
      'pipelines/penguins.yml: features[0].from: a feature cannot be computed from the target (label leakage)',
    );
  });

  it('refuses a gate metric that does not exist', () => {
    const text = penguinsText.replace('accuracy: { min: 0.9 }', 'precision: { min: 0.9 }');
    expect(problemsOf(text)).toEqual(['pipelines/penguins.yml: gate.metrics: unknown key "precision"']);
  });

  it('refuses a gate metric that does not belong to the task', () => {
    const text = penguinsText.replace('accuracy: { min: 0.9 }', 'rmse: { max: 2 }');
    expect(problemsOf(text)).toEqual([
      'pipelines/penguins.yml: gate.metrics.rmse: not a metric of a multiclass task; expected one of accuracy, f1, logloss',
    ]);
  });

  it('asks for an encoding on a string feature and a timestamp column for an extract', () => {
    const text = penguinsText
      .replace('{ name: island, from: Island, encode: category }', '{ name: island, from: Island }')
      .replace(
        '{ name: body_mass, from: Body Mass (g), impute: median }',
        '{ name: body_mass, from: Body Mass (g), extract: hour }',
      );
    expect(problemsOf(text)).toEqual([
      'pipelines/penguins.yml: features[0].encode: "Island" is a string column: set encode: category',
      'pipelines/penguins.yml: features[4].extract: extract needs a timestamp column, "Body Mass (g)" is number',
    ]);
  });

  it('explains YAML that does not parse', () => {
    expect(problemsOf('name: [penguins')[0]).toMatch(/^pipelines\/penguins\.yml: not valid YAML: /);
  });

  it('finds a spec by pipeline name and names the known ones for an unknown pipeline', () => {
    const catalog = new SpecCatalog(PIPELINES);
    expect(catalog.get('cars').name).toBe('cars');
    expect(() => catalog.get('bikes')).toThrow(UnknownPipelineError);
    expect(() => catalog.get('bikes')).toThrow(
      'unknown pipeline "bikes"; known pipelines: cars, flights, movies, penguins',
    );
  });

  it('reads a spec when its pipeline is first asked for, so a broken spec stops only its own pipeline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-specs-'));
    writeFileSync(join(dir, 'penguins.yml'), penguinsText);
    writeFileSync(join(dir, 'broken.yml'), 'name: broken\ncolumns: 7\n');
    const catalog = new SpecCatalog(dir);
    expect(catalog.names).toEqual(['broken', 'penguins']);
    expect(catalog.find('penguins')?.target.column).toBe('Species');
    expect(catalog.find('penguins')).toBe(catalog.find('penguins'));
    expect(() => catalog.find('broken')).toThrow(SpecValidationError);
    expect(catalog.find('bikes')).toBeUndefined();
  });

  it('serves a compiled spec while its file says what it was compiled from, and reads the file once it changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-specs-'));
    writeFileSync(join(dir, 'penguins.yml'), penguinsText);
    const file = join(dir, 'specs.json');
    writeFileSync(file, JSON.stringify(compileSpecs(dir)));
    const compiled = readCompiledSpecs(file);
    const served = new SpecCatalog(dir, compiled).get('penguins');
    expect(served).toBe(compiled?.specs.penguins?.spec);
    expect(served).toStrictEqual(loadSpecs(dir).get('penguins'));

    writeFileSync(
      join(dir, 'penguins.yml'),
      penguinsText.replace(/^description: .*$/m, 'description: edited'),
    );
    const reread = new SpecCatalog(dir, compiled).get('penguins');
    expect(reread).not.toBe(compiled?.specs.penguins?.spec);
    expect(reread.description).toBe('edited');
  });

  it("reads a pipeline's spec from its folder at each call, compiled while its file says what was compiled", () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-specs-'));
    writeFileSync(join(dir, 'penguins.yml'), penguinsText);
    writeFileSync(compiledSpecsFile(dir), JSON.stringify(compileSpecs(dir)));
    const compiled = readCompiledSpecs(compiledSpecsFile(dir));
    expect(readPipelineSpec(dir, 'penguins', compiled)).toBe(compiled?.specs.penguins?.spec);
    expect(readPipelineSpec(dir, 'penguins')).toStrictEqual(compiled?.specs.penguins?.spec);
    expect(readPipelineSpec(dir, 'dodo', compiled)).toBeUndefined();
    // The folder lists no compiled file as a pipeline.
    expect(pipelineNames(dir)).toEqual(['penguins']);
    // An edit is seen at the next call, compiled or not.
    writeFileSync(
      join(dir, 'penguins.yml'),
      penguinsText.replace(/^description: .*$/m, 'description: edited'),
    );
    expect(readPipelineSpec(dir, 'penguins', compiled)?.description).toBe('edited');
    writeFileSync(join(dir, 'penguins.yml'), 'name: penguins\n');
    expect(() => readPipelineSpec(dir, 'penguins', compiled)).toThrow(SpecValidationError);
  });

  it('keeps every shipped spec whole through its compiled JSON', () => {
    const compiled = compileSpecs(PIPELINES);
    expect(Object.keys(compiled.specs)).toEqual(['cars', 'flights', 'movies', 'penguins']);
    expect(JSON.parse(JSON.stringify(compiled))).toStrictEqual(compiled);
  });

  it('reads no compiled specs where there is no file, and refuses a file of another format', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-specs-'));
    expect(readCompiledSpecs(join(dir, 'specs.json'))).toBeUndefined();
    writeFileSync(join(dir, 'specs.json'), JSON.stringify({ format: 'other', specs: {} }));
    expect(() => readCompiledSpecs(join(dir, 'specs.json'))).toThrow(
      /specs\.json: format: expected "mlpipe-specs\/1"/,
    );
  });

  it('reads durations as people write them', () => {
    expect([durationSeconds('90s'), durationSeconds('10m'), durationSeconds('2h')]).toEqual([90, 600, 7200]);
  });

  it('ships a JSON Schema for editors that matches the validating schema', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderSchema());
    const schema = JSON.parse(renderSchema()) as { properties: Record<string, unknown>; required: string[] };
    expect(schema.required).toEqual(
      expect.arrayContaining(['name', 'columns', 'target', 'split', 'features']),
    );
  });
});
