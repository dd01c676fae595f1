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
    expect(missingColumns(penguins, [])).toMatch(/which has none: no JSON object in it has a key$/);
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

  it('points at a header row that is missing, when the names it finds are values', () => {
    expect(missingColumns(penguins, ['Adelie', 'Torgersen', '39.1', '18.7', '181', '3750', 'MALE'])).toMatch(
      /\(the first line holds values such as "Adelie", "Torgersen", "39.1": is the header row missing\?\)$/,
    );
    const flights = spec('flights');
    expect(missingColumns(flights, ['2001-01-01 00:01:00', '-5', '1234', 'SFO', 'LAX'])).toMatch(
      /values such as "2001-01-01 00:01:00", "-5", "1234"/,
    );
    // A header in another case is no row of values.
    expect(
      missingColumns(
        penguins,
        header.map((name) => name.toLowerCase()),
      ),
    ).not.toMatch(/header row/);
  });

  it('points at another delimiter when the file reads as one column that holds it', () => {
    expect(missingColumns(penguins, [header.join(';')])).toMatch(
      /\(one column, holding ";": the spec's delimiter is ","\)$/,
    );
    expect(missingColumns(penguins, [header.join('\t')])).toMatch(/holding "\\t"/);
  });

  it("points at another delimiter when the names hold it and the spec's, as decimal commas give", () => {
    // "Adelie;Torgersen;39,1;18,7": read with ",", its second line has the most fields, and is
    // taken for the header.
    expect(missingColumns(penguins, ['Adelie;Torgersen;39', '1;18', '7'])).toMatch(
      /\("Adelie;Torgersen;39", holding ";": the spec's delimiter is ","\)$/,
    );
    // A name of the spec's found: the file is read with the right delimiter.
    expect(missingColumns(penguins, ['Species', 'Island;Sex'])).not.toMatch(/holding/);
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
  /** The instant of a day and time in UTC, by Date's own calendar arithmetic; NaN off the calendar. */
  const utc = (year: number, month: number, day: number, [h, m, s]: readonly number[]) => {
    const end = new Date(0);
    end.setUTCFullYear(year, month, 0);
    const inCalendar = month >= 1 && month <= 12 && day >= 1 && day <= end.getUTCDate();
    const endOfDay = h === 24 && m === 0 && s === 0;
    if (!inCalendar || ((h ?? 24) > 23 && !endOfDay) || (m ?? 60) > 59 || (s ?? 60) > 59) return Number.NaN;
    const at = new Date(0);
    at.setUTCFullYear(year, month - 1, day);
    return at.setUTCHours(h ?? 0, m, s);
  };

  it('reads each day of the calendar and no other, at any time of day, in either form', () => {
    const differ: string[] = [];
    for (const year of [99, 100, 1900, 2000, 2001, 2004, 9999])
      for (let month = 0; month <= 13; month++)
        for (const day of [0, 1, 28, 29, 30, 31, 32])
          for (const time of ['00:00:00', '23:59:59', '24:00:00', '12:60:00', '12:00:60', '9:00:00'])
            for (const sep of ['T', ' ']) {
              const text = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}${sep}${time}`;
              const expected = utc(year, month, day, time.split(':').map(Number));
              if (!Object.is(parseTimestamp(text).getTime(), expected)) differ.push(text);
            }
    expect(differ).toEqual([]);
  });

  it('reads a time without a zone as UTC in a process of another time zone, and one with a zone at its offset', () => {
    // jest.config.js runs every test in a zone of its own, where Date alone reads such a text otherwise.
    expect(new Date('2001-1-1 00:00:00').getTime()).not.toBe(Date.UTC(2001, 0, 1));
    const texts = {
      '2001-1-1 00:00:00': '2001-01-01T00:00:00.000Z',
      '2001-01-01  2:34:56': '2001-01-01T02:34:56.000Z',
      '2001-01-05T10:00:00.123456': '2001-01-05T10:00:00.123Z',
      '2001-04-01 02:30': '2001-04-01T02:30:00.000Z',
      '2001-01-01': '2001-01-01T00:00:00.000Z',
      '0099-12-31 23:59:59.5': '0099-12-31T23:59:59.500Z',
      '2001-01-05 10:00:00 UTC': '2001-01-05T10:00:00.000Z',
      '2001-01-05 10:00:00Z': '2001-01-05T10:00:00.000Z',
      '2001-01-05 10:00:00+02': '2001-01-05T08:00:00.000Z',
      '2001-01-05T10:00:00-0530': '2001-01-05T15:30:00.000Z',
      '2001-01-05T10:00:00+05:45': '2001-01-05T04:15:00.000Z',
      '2001/01/05 10:00': '2001-01-05T10:00:00.000Z',
      'Jun 12 1998': '1998-06-12T00:00:00.000Z',
      '12 June 1998 10:00': '1998-06-12T10:00:00.000Z',
      'Sept 1st, 1998': '1998-09-01T00:00:00.000Z',
      'Fri, 12 Jun 1998 10:00:00 GMT': '1998-06-12T10:00:00.000Z',
      'Fri Jun 12 1998 10:00:00 GMT+0200': '1998-06-12T08:00:00.000Z',
    };
    const read = Object.fromEntries(Object.keys(texts).map((t) => [t, parseTimestamp(t).toISOString()]));
    expect(read).toEqual(texts);
  });

  it('reads no form whose month, year or zone would be a guess', () => {
    // Numbers alone that do not start with the year, words that name no month or weekday, a zone's
    // abbreviation (EST names two zones) and a two-digit year.
    const guesses = [
      '01/05/2001 10:00',
      '05.01.2001',
      'Foo Jun 12 1998',
      'Jux 12 1998',
      '2001-01-05 10:00 EST',
      '01-01-01 12:34:56',
    ];
    const validate = rowValidator(spec('flights'));
    const flight = { delay: 5, distance: 300, origin: 'SFO', destination: 'LAX' };
    for (const date of guesses)
      expect(validate({ ...flight, date })).toEqual({
        ok: false,
        problems: [
          {
            field: 'date',
            reason: `"${date}" is not a date or timestamp like 2001-01-19 09:23:45 or Jun 12 1998`,
          },
        ],
      });
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
