import {
  missingColumns,
  nullValuesOf,
  parseTimestamp,
  reasonKind,
  rowValidator,
  timeBoundaries,
  timeSplit,
} from '../../../core/ingest';
import { loadSpecs, type PipelineSpec, parseSpec } from '../../../core/spec';

const specs = loadSpecs('pipelines');
const spec = (name: string): PipelineSpec => {
  const found = specs.get(name);
  if (!found) throw new Error(`no spec ${name}`);
  return found;
};

const penguin = {
  Species: ' Adelie ',
  Island: 'Torgersen',
  'Beak Length (mm)': '39.1',
  'Beak Depth (mm)': 18.7,
  'Flipper Length (mm)': '181',
  'Body Mass (g)': 3750,
  Sex: 'MALE',
};

describe('validating a row against its pipeline spec', () => {
  const validate = rowValidator(spec('penguins'));

  it('cleans a good row: trims text and coerces numbers', () => {
    const outcome = validate(penguin);
    expect(outcome).toEqual({
      ok: true,
      row: expect.objectContaining({
        Species: 'Adelie',
        'Beak Length (mm)': 39.1,
        'Flipper Length (mm)': 181,
      }),
    });
  });

  it('names every field that is wrong and why', () => {
    const outcome = validate({
      ...penguin,
      Species: 'Emperor',
      'Body Mass (g)': 'heavy',
      'Beak Length (mm)': 500,
    });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.problems).toEqual([
      { field: 'Species', reason: '"Emperor" is not one of Adelie, Chinstrap, Gentoo' },
      { field: 'Beak Length (mm)', reason: '500 is above the maximum 100' },
      { field: 'Body Mass (g)', reason: '"heavy" is not a number' },
    ]);
    expect(outcome.problems.map(reasonKind)).toContain('Species: not one of Adelie, Chinstrap, Gentoo');
  });

  it('accepts empty values only in nullable columns, and reports a missing required column', () => {
    const { Species: _species, ...noSpecies } = penguin;
    const outcome = validate({ ...noSpecies, Sex: '', 'Body Mass (g)': null });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.problems).toEqual([{ field: 'Species', reason: 'missing column' }]);
  });

  it('keeps or drops columns the spec does not know, as it says', () => {
    const keep = parseSpec(
      `name: keepers
input: { unknownColumns: keep }
columns: { x: { type: number }, y: { type: number } }
target: { column: y, task: regression }
split: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }
features: [{ name: x, from: x }]
`,
      'pipelines/keepers.yml',
    );
    expect(rowValidator(keep)({ x: 1, y: 2, note: 'hi' })).toEqual({
      ok: true,
      row: { x: 1, y: 2, note: 'hi' },
    });
    expect(validate({ ...penguin, note: 'hi' })).toEqual({
      ok: true,
      row: expect.not.objectContaining({ note: 'hi' }),
    });
  });
});

describe('a file without a column every row needs', () => {
  const penguins = spec('penguins');
  const header = Object.keys(penguins.columns);

  it('has no such reason when every column the spec does not mark optional is there', () => {
    expect(missingColumns(penguins, header)).toBeUndefined();
    expect(missingColumns(penguins, [...header, 'Notes'])).toBeUndefined();
    const optional = parseSpec(
      'name: opt\ncolumns: { a: { type: number }, b: { type: number, optional: true }, y: { type: number } }\ntarget: { column: y, task: regression }\nsplit: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }\nfeatures: [{ name: a, from: a }]\n',
      'opt.yml',
    );
    expect(missingColumns(optional, ['a', 'y'])).toBeUndefined();
  });

  it('names the missing columns and the ones the file has', () => {
    expect(
      missingColumns(
        penguins,
        header.filter((name) => name !== 'Island' && name !== 'Sex'),
      ),
    ).toBe(
      'no column "Island", "Sex" in the file, which has "Species", "Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"',
    );
    expect(missingColumns(penguins, [])).toMatch(/which has none$/);
  });

  it('points at a name that differs only in case', () => {
    expect(
      missingColumns(
        penguins,
        header.map((name) => (name === 'Sex' ? 'sex' : name)),
      ),
    ).toBe(
      'no column "Sex" in the file, which has "Species", "Island", "Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)", "sex" (names differ in case: "sex" for "Sex")',
    );
  });

  it('points at another delimiter when the file reads as one column that holds it', () => {
    expect(missingColumns(penguins, [header.join(';')])).toMatch(
      /\(one column, holding ";": the spec's delimiter is ","\)$/,
    );
    expect(missingColumns(penguins, [header.join('\t')])).toMatch(/holding "\\t"/);
  });
});

describe('the texts that mean a value is missing', () => {
  it("are the spec's nullValues in a CSV file, and none in JSON or Parquet, which have null", () => {
    const penguins = spec('penguins');
    expect(nullValuesOf(penguins, 'csv')).toEqual(['NA']);
    for (const format of ['jsonl', 'json', 'parquet'] as const)
      expect(nullValuesOf(penguins, format)).toEqual([]);
  });
});

describe('reading a timestamp', () => {
  /** What Date's own parser makes of a timestamp without a zone, read as UTC. */
  const byDate = (text: string) =>
    new Date(
      /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? `${text.replace(' ', 'T')}Z` : text,
    ).getTime();

  it('reads every date and time as Date would, real or not, in either form', () => {
    const texts: string[] = [];
    for (const year of ['0099', '0100', '1900', '2000', '2001', '2004', '9999'])
      for (let month = 0; month <= 13; month++)
        for (const day of [0, 1, 28, 29, 30, 31, 32])
          for (const time of ['00:00:00', '23:59:59', '24:00:00', '12:60:00', '12:00:60', '9:00:00'])
            for (const sep of ['T', ' '])
              texts.push(
                `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}${sep}${time}`,
              );
    texts.push('2001-01-19T09:23:0x', '2001/01/19T09:23:00', '2001-01-19T09:23:00Z', '+2001-01-19T09:23');
    const differ = texts.filter((t) => !Object.is(parseTimestamp(t).getTime(), byDate(t)));
    expect(differ).toEqual([]);
    expect(texts.filter((t) => Number.isNaN(byDate(t))).length).toBeGreaterThan(1000);
  });
});

describe('splitting rows', () => {
  it('splits by time with the earliest rows in train and the latest in test', () => {
    const flights = spec('flights');
    const times = Float64Array.from({ length: 100 }, (_, i) => Date.UTC(2001, 0, 1) + i * 3_600_000);
    const bounds = timeBoundaries(flights, times);
    const splits = Array.from(times, (t) => timeSplit(t, bounds));
    expect(splits.slice(0, 80).every((s) => s === 'train')).toBe(true);
    expect(splits.slice(90).every((s) => s === 'test')).toBe(true);
    expect(splits.filter((s) => s === 'validation')).toHaveLength(10);
  });
});
