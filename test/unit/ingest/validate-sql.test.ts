import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ANY_TEXT,
  boundaryRank,
  type RankWindow,
  rankWindows,
  rowValidator,
  splitSql,
  timeBoundaries,
  timeBoundariesSql,
  validationSql,
} from '../../../core/ingest';
import { loadSpecs, type PipelineSpec, parseSpec } from '../../../core/spec';
import { TextChecker } from '../../../functions/ingest/text';
import { openSource, runSql } from '../../../functions/shared/table';

/**
 * The SQL validation is a fast path of rowValidator, never a second opinion: wherever it accepts a
 * value, rowValidator accepts it too, with the same cleaned value. These raw texts are the tricky
 * ones; the SQL may refuse some rowValidator accepts (they then go through rowValidator).
 */
const RAW: Record<string, readonly (string | null)[]> = {
  number: [
    '1',
    '1.5',
    ' 2 ',
    '+3',
    '-4',
    '.5',
    '5.',
    '1e3',
    '1E-2',
    '0x10',
    '0b1',
    '0o7',
    '1_000',
    'inf',
    '-Infinity',
    'Infinity',
    'nan',
    '1,5',
    '1.2.3',
    '',
    '  ',
    '\u00a07\u00a0',
    '１',
    '1e400',
    '00012',
    '1d',
    '\t7\t',
    '-0',
    null,
  ],
  integer: [
    '1',
    '1.0',
    '1.5',
    '-2.5',
    '-0',
    '1.0000000001',
    '4.5e15',
    '1e3',
    '9007199254740991',
    '9007199254740993',
    '-9007199254740993',
    '1e400',
    'inf',
    'nan',
    '-42',
    ' 7 ',
    '\t7\t',
    'x',
    '',
    null,
  ],
  string: [
    'Adelie',
    ' Adelie ',
    'Adelie ',
    '  Adelie',
    ' \u00a0Adelie',
    '\u00a0Adelie\u3000',
    '\u00a0',
    'Dodo',
    '',
    ' ',
    'Gentoo\n',
    null,
  ],
  boolean: ['true', 'TRUE', ' yes ', 'Y', '0', 'f', 'no', 'maybe', '', null],
  timestamp: [
    '2001-01-01 00:01:00',
    '2001-01-01T00:01:00',
    '2001-01-01 00:01',
    '2001-01-01',
    '2001-02-30 00:00:00',
    '2001-01-01 24:00:00',
    '2001-01-01 23:59:60',
    '2001-01-01 00:00:00.1',
    '2001-01-01 00:00:00.12',
    '2001-01-01 00:00:00.123',
    '2001-01-01 00:00:00.1234',
    '2001-1-1 00:00:00',
    '2001-01-01 00:00:00Z',
    '2001-01-01 00:00:00+02:00',
    '20010101',
    '2001-01-01 1:02:03',
    ' 2001-01-01 00:00:00 ',
    '+001-01-01 00:00:00',
    // Forms DuckDB's timestamp cast takes with a character other than a digit where one belongs.
    '-001-01-01 12:34:56',
    ' 001-01-01 12:34:56',
    '2001-01-01  2:34:56',
    '2001-01-01T 2:34:56',
    '2001-01-01 12:34:5 ',
    '2001-01-01 12:34:5.',
    '2001-01-01T12:34:5Z',
    '2001-01-01 12:34:5Z',
    '001-01-01 12:34:56',
    '01-01-01 12:34:56',
    '1-01-01',
    '2001-01-01 -1:00:00',
    '2001-01-01T00:00:0x',
    '0000-01-01 00:00:00',
    'Jan 1 2001',
    '1990-06-01',
    '',
    null,
  ],
};

const oneColumn = (type: string, extra = '') =>
  parseSpec(
    `name: one
columns: { v: { type: ${type}${extra} }, y: { type: number, nullable: true }, z: { type: number, optional: true, nullable: true } }
target: { column: y, task: regression }
split: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }
features: [{ name: z, from: z }]
`,
    'pipelines/one.yml',
  );

const valuesSql = (rows: readonly (string | null)[]) =>
  `SELECT * FROM (VALUES ${rows
    .map((v) => `(${v === null ? 'NULL::VARCHAR' : `'${v.replace(/'/g, "''")}'`}, NULL::VARCHAR)`)
    .join(', ')}) AS t(v, y)`;

/** Each raw value through the SQL, in order: whether it passed and its typed value. */
const throughSql = async (spec: PipelineSpec, rows: readonly (string | null)[], facts = ANY_TEXT) => {
  const { select } = validationSql(spec, valuesSql(rows), ['v', 'y'], { facts });
  const out = await runSql([`SELECT v, __ok FROM (${select})`]);
  return out.map((r) => ({ ok: r.__ok as boolean, value: r.v }));
};

const comparable = (v: unknown): unknown =>
  v instanceof Date ? v.getTime() : typeof v === 'bigint' ? Number(v) : v;

describe('validating rows in SQL', () => {
  it.each([
    ['number', ''],
    ['number', ', nullable: true, min: 0, max: 100'],
    ['integer', ''],
    ['integer', ', nullable: true, min: -50, max: 50'],
    ['string', ''],
    ['string', ', nullable: true, values: [Adelie, Gentoo]'],
    ['boolean', ''],
    ['boolean', ', nullable: true'],
    ['timestamp', ''],
    ['timestamp', ', nullable: true'],
  ])('accepts a %s%s value only where rowValidator does, with the same value', async (type, extra) => {
    const spec = oneColumn(type, extra);
    const base = type === 'integer' ? 'integer' : type;
    const raws = RAW[base] ?? [];
    const validate = rowValidator(spec);
    const sql = await throughSql(spec, raws);
    const disagreements = raws.flatMap((raw, i): { raw: string | null; sql: unknown; js: unknown }[] => {
      const js = validate({ v: raw, y: null });
      const got = sql[i];
      if (!got?.ok) return [];
      if (!js.ok) return [{ raw, sql: got.value, js: js.problems }];
      return comparable(js.row.v) === comparable(got.value) ? [] : [{ raw, sql: got.value, js: js.row.v }];
    });
    expect(disagreements).toEqual([]);
  });

  it("decides alike without the checks a CSV file's bytes rule out, for every value such a file can hold", async () => {
    // A file of ASCII without underscores, tabs, carriage returns or quotes.
    const possible = (raw: string | null) => raw === null || /^[\x20-\x21\x23-\x5e\x60-\x7e]*$/.test(raw);
    for (const [type, raws] of Object.entries(RAW)) {
      const spec = oneColumn(type);
      const values = raws.filter(possible);
      expect(values.length).toBeGreaterThan(3);
      expect({
        type,
        got: await throughSql(spec, values, { underscore: false, otherWhitespace: false, fractions: true }),
      }).toEqual({
        type,
        got: await throughSql(spec, values),
      });
    }
  });

  it.each(['number', 'integer', 'string', 'boolean', 'timestamp'])(
    "reads a CSV file's texts the spec names in nullValues as missing in a %s column, as rowValidator does",
    async (type) => {
      const nullValues = ['NA', 'N/A', '-999', 'n'];
      const raws = ['NA', ' NA ', '\tNA', 'na', 'N/A', '-999', ' -999 ', '-9999', 'n', ' n', 'N', '', null];
      for (const nullable of [true, false]) {
        const spec = parseSpec(
          `name: nulls
input: { nullValues: [${nullValues.map((v) => JSON.stringify(v)).join(', ')}] }
columns: { v: { type: ${type}, nullable: ${nullable} }, y: { type: number, nullable: true }, z: { type: number, nullable: true } }
target: { column: y, task: regression }
split: { by: hash, train: 0.8, validation: 0.1, test: 0.1 }
features: [{ name: z, from: z }]
`,
          'pipelines/nulls.yml',
        );
        const { select } = validationSql(
          spec,
          `SELECT *, NULL::VARCHAR AS z FROM (${valuesSql(raws)})`,
          ['v', 'y', 'z'],
          {
            nullValues,
          },
        );
        const sql = (await runSql([`SELECT v, __ok FROM (${select})`])).map((r) => ({
          ok: r.__ok as boolean,
          value: comparable(r.v),
        }));
        const validate = rowValidator(spec, { nullValues });
        const js = raws.map((raw) => {
          const outcome = validate({ v: raw, y: null, z: null });
          return outcome.ok ? { ok: true, value: comparable(outcome.row.v) } : { ok: false };
        });
        // Where the SQL passes a row, rowValidator passes it with the same value.
        expect(sql.map((got, i) => (got.ok ? got : js[i]))).toEqual(js);
        // The texts named, trimmed or not, are missing values on the fast path: null where the column
        // may be empty, a failed row where it may not.
        const named = raws.flatMap((raw, i) =>
          raw !== null && nullValues.includes(raw.trim()) ? [sql[i]] : [],
        );
        expect(named).toHaveLength(8);
        expect(named).toEqual(
          named.map(() => (nullable ? { ok: true, value: null } : { ok: false, value: null })),
        );
      }
    },
  );

  it('takes the everyday forms on the fast path, so a clean file never reaches rowValidator', async () => {
    const everyday: [string, string, string][] = [
      ['number', '', '39.1'],
      ['integer', '', '3750'],
      ['string', ', values: [Adelie]', 'Adelie'],
      ['boolean', '', 'true'],
      ['timestamp', '', '2001-01-01 06:05:00'],
      ['timestamp', '', '2001-01-01T06:05:00.250'],
      ['timestamp', '', '2001-01-01'],
    ];
    for (const [type, extra, raw] of everyday) {
      expect({ type, raw, ok: (await throughSql(oneColumn(type, extra), [raw]))[0]?.ok }).toEqual({
        type,
        raw,
        ok: true,
      });
    }
  });

  it('fails every row when a required column is missing from the file, and none when it is optional', async () => {
    const required = validationSql(oneColumn('number'), 'SELECT NULL::VARCHAR AS y', ['y']);
    expect(await runSql([`SELECT __ok FROM (${required.select})`])).toEqual([{ __ok: false }]);
    const optional = validationSql(
      oneColumn('number', ', nullable: true, optional: true'),
      'SELECT NULL::VARCHAR AS y',
      ['y'],
    );
    expect(await runSql([`SELECT __ok FROM (${optional.select})`])).toEqual([{ __ok: true }]);
  });

  it('marks exactly the failing rows by an empty required column, so staged rows carry no column of their own', async () => {
    const rows = ['12', 'twelve', '13', '', '14'];
    const { select, marked } = validationSql(oneColumn('number'), valuesSql(rows), ['v', 'y']);
    expect(marked?.column).toBe('v');
    const staged = await runSql([`SELECT * FROM (${marked?.select})`]);
    expect(staged.map((r) => Object.keys(r))).toEqual(rows.map(() => ['v', 'y', 'z']));
    expect(staged.map((r) => r.v)).toEqual([12, null, 13, null, 14]);
    const ok = (await runSql([`SELECT __ok FROM (${select})`])).map((r) => r.__ok);
    expect(staged.map((r) => r.v !== null)).toEqual(ok);
  });

  it("marks by the time split's column where it is required, and by nothing when every column may be empty", () => {
    const flights = loadSpecs('pipelines').get('flights') as PipelineSpec;
    expect(validationSql(flights, 'SELECT 1', ['date']).marked?.column).toBe('date');
    expect(validationSql(oneColumn('number', ', nullable: true'), 'SELECT 1', ['v']).marked).toBeUndefined();
  });

  it('numbers the failing rows in file order and keeps their raw text, for rowValidator to explain', async () => {
    const { failing } = validationSql(oneColumn('number'), valuesSql(['12', 'twelve', '13', '', '14']), [
      'v',
      'y',
    ]);
    expect(await runSql([failing])).toEqual([
      { __row: 2, __raw0: 'twelve', __raw1: null, __unreadable: null },
      { __row: 4, __raw0: '', __raw1: null, __unreadable: null },
    ]);
  });

  describe("with a CSV file's whole numbers read by DuckDB's reader", () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-whole-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const WHOLE = [
      ...(RAW.integer ?? []),
      ...['+5', '007', '0x10', '0X1F', '0b101', '0o17', '-0x10', '1e+3', '5E0', '9e15', '1e19'],
      ...['9007199254740992', '-9007199254740992', '0x7fffffffffffffff', '  ', '١٢', '1 000', '--5'],
    ];

    /**
     * `raw` as the one value of a CSV file: the facts its bytes give, and, where they let the reader
     * read whole numbers, what the typed read gives and what the read as text gives (or that the
     * typed read failed, which stages the file again as text).
     */
    const readBoth = async (spec: PipelineSpec, raw: string | null, i: number) => {
      const file = join(dir, `${i}.csv`);
      writeFileSync(file, `v,y\n${raw ?? ''},\n`);
      const checker = new TextChecker(file, 1_000, true, ',');
      checker.push(readFileSync(file));
      const check = checker.end();
      const facts = check.ok ? (check.facts ?? ANY_TEXT) : ANY_TEXT;
      if (facts.fractions || facts.underscore) return { raw, typed: 'not tried' as const };
      const source = await openSource(file, 'csv', ',', 1_000);
      const typedSql = source.withWholeNumbers?.(['v']);
      if (typedSql === undefined) throw new Error(`no typed reader of ${file}`);
      const verdict = async (sql: string, wholeNumbers?: ReadonlySet<string>) => {
        const { select } = validationSql(spec, sql, source.columns, {
          facts,
          ...(wholeNumbers && { wholeNumbers }),
        });
        const [row] = await runSql([`SELECT v, __ok FROM (${select})`]);
        return { ok: row?.__ok as boolean, value: comparable(row?.v) };
      };
      const text = await verdict(source.sql);
      try {
        return { raw, typed: await verdict(typedSql, new Set(['v'])), text };
      } catch {
        return { raw, typed: 'failed' as const, text };
      }
    };

    it.each([
      ['', ''],
      [', nullable: true, min: -50, max: 50', ''],
    ])('decides every value it reads as the text does, with the same value%s', async (extra) => {
      const spec = oneColumn('integer', extra);
      const validate = rowValidator(spec);
      const read = await Promise.all(WHOLE.map((raw, i) => readBoth(spec, raw, i)));
      const disagreements = read.filter(
        (r) => typeof r.typed !== 'string' && JSON.stringify(r.typed) !== JSON.stringify(r.text),
      );
      expect(disagreements).toEqual([]);
      // And where either passes a value, rowValidator passes it with that value (0 and -0 alike,
      // as a BIGINT holds them).
      const unlike = read.flatMap((r) => {
        const passed = [r.typed, 'text' in r ? r.text : 'not tried'].filter(
          (v) => typeof v !== 'string' && v.ok,
        ) as { value: unknown }[];
        const js = validate({ v: r.raw, y: null });
        return passed.every((v) => js.ok && comparable(js.row.v) === v.value) ? [] : [{ ...r, js }];
      });
      expect(unlike).toEqual([]);
      // Not vacuous: most values went through the typed reader, and the rounding it would do
      // ("1.5" as 2) was never tried.
      const typed = read.filter((r) => typeof r.typed !== 'string').map((r) => r.raw);
      expect(typed).toEqual(expect.arrayContaining(['1', '-0', ' 7 ', '1e3', '0x10', '-42', null]));
      expect(read.filter((r) => r.typed === 'failed').map((r) => r.raw)).toEqual(
        expect.arrayContaining(['x', 'inf', '1e19', '-0x10']),
      );
      expect(read.find((r) => r.raw === '1.5')?.typed).toBe('not tried');
    });
  });
});

describe('splitting rows in SQL', () => {
  const specs = loadSpecs('pipelines');

  it("finds the time boundaries of every row's time in one query, ties included, null times ranked last", async () => {
    const flights = specs.get('flights') as PipelineSpec;
    const boundaries = async (times: readonly (number | null)[]) => {
      const rows = `SELECT epoch_ms(t) AS "date" FROM (VALUES ${times.map((t) => `(${t ?? 'NULL::BIGINT'})`).join(', ')}) AS v(t)`;
      const [found] = await runSql([timeBoundariesSql(flights, rows, times.length)]);
      return { trainEnd: Number(found?.trainEnd), validationEnd: Number(found?.validationEnd) };
    };
    // 1,000 flights over 37 distinct minutes, so many share a time.
    const times = Float64Array.from(
      { length: 1000 },
      (_, i) => Date.UTC(2001, 0, 1) + ((i * 7) % 37) * 60_000,
    );
    expect(await boundaries([...times])).toEqual(timeBoundaries(flights, times));
    // Ranks 7 and 8 of ten fall on the null times: both boundaries are the latest time.
    const early = Array.from({ length: 7 }, (_, i) => Date.UTC(2001, 0, 1 + i));
    expect(await boundaries([null, ...early, null, null])).toEqual({
      trainEnd: early[6],
      validationEnd: early[6],
    });
    expect(await boundaries([null, null])).toEqual({ trainEnd: 0, validationEnd: 0 });
  });
  it('finds the same time boundaries reading only the files that can hold them, however the files overlap in time', async () => {
    const flights = specs.get('flights') as PipelineSpec;
    const start = Date.UTC(2001, 0, 1);
    // 2,000 times over 300 distinct minutes, in time order with some disorder, as a file arrives.
    const times = Array.from(
      { length: 2000 },
      (_, i) => start + Math.floor((i + ((i * 7919) % 23)) / 7) * 60_000,
    );
    const valuesOf = (part: readonly number[]) =>
      `SELECT epoch_ms(t) AS "date" FROM (VALUES ${part.map((t) => `(${t})`).join(', ')}) AS v(t)`;
    for (const size of [97, 250, 1000]) {
      for (const loose of [0, 5]) {
        const files: number[][] = [];
        for (let i = loose; i < times.length; i += size) files.push(times.slice(i, i + size));
        const looseTimes = times.slice(0, loose);
        const ranges = files.map((f) => ({ rows: f.length, first: Math.min(...f), last: Math.max(...f) }));
        const ranks = [boundaryRank(0.8, times.length), boundaryRank(0.9, times.length)];
        const { read, windows } = rankWindows(ranges, loose, ranks);
        const rows = [...files.filter((_, i) => read[i]), ...(loose > 0 ? [looseTimes] : [])]
          .map(valuesOf)
          .join(' UNION ALL ');
        const [found] = await runSql([
          timeBoundariesSql(flights, rows, times.length, [
            windows[0] as RankWindow,
            windows[1] as RankWindow,
          ]),
        ]);
        // With the times nearly in order, a boundary is among a file or two.
        if (files.length >= 3) expect(read.filter(Boolean).length).toBeLessThan(files.length);
        expect({
          size,
          loose,
          trainEnd: Number(found?.trainEnd),
          validationEnd: Number(found?.validationEnd),
        }).toEqual({
          size,
          loose,
          ...timeBoundaries(flights, Float64Array.from(times)),
        });
        // A file wholly before the earliest the train boundary can be is wholly train, and with
        // no rows of unknown time, the earliest files are.
        const { trainEnd } = timeBoundaries(flights, Float64Array.from(times));
        const early = ranges.filter((r) => r.last < (windows[0] as RankWindow).from);
        expect(early.every((r) => r.last <= trainEnd)).toBe(true);
        if (loose === 0 && size < 1000) expect(early.length).toBeGreaterThan(0);
      }
    }
  });

  const cars = specs.get('cars') as PipelineSpec;
  const penguins = specs.get('penguins') as PipelineSpec;

  const splits = async (spec: PipelineSpec, columns: [string, string][], rows: string) =>
    (await runSql([`SELECT ${splitSql(spec, columns)} AS split FROM (${rows})`])).map((r) => r.split);

  it('puts a row with the same id in the same split every time, in the fractions of the spec', async () => {
    const first = await splits(
      cars,
      [['name', 'VARCHAR']],
      `SELECT 'car ' || i AS name FROM range(2000) t(i)`,
    );
    const again = await splits(
      cars,
      [
        ['name', 'VARCHAR'],
        ['cylinders', 'BIGINT'],
      ],
      `SELECT 'car ' || i AS name, 4 AS cylinders FROM range(2000) t(i)`,
    );
    expect(again).toEqual(first);
    const share = (s: string) => first.filter((x) => x === s).length / first.length;
    expect(share('train')).toBeCloseTo(cars.split.train, 1);
    expect(share('test')).toBeCloseTo(cars.split.test, 1);
  });

  it('splits by the first 48 bits of the SHA-256 of the pipeline, "id" and the id, as a fraction of 2^48', async () => {
    const expected = (spec: PipelineSpec, id: string) => {
      const hex = createHash('sha256').update([spec.name, 'id', id].join('\u0000')).digest('hex');
      const u = Number.parseInt(hex.slice(0, 12), 16) / 2 ** 48;
      return u < spec.split.train
        ? 'train'
        : u < spec.split.train + spec.split.validation
          ? 'validation'
          : 'test';
    };
    const ids = Array.from({ length: 3000 }, (_, i) => `car ${i}`);
    const noTest = { ...cars, split: { ...cars.split, train: 0.9, validation: 0.1, test: 0 } };
    for (const spec of [cars, noTest]) {
      const got = await splits(
        spec,
        [['name', 'VARCHAR']],
        `SELECT 'car ' || i AS name FROM range(3000) t(i)`,
      );
      expect(got).toEqual(ids.map((id) => expected(spec, id)));
    }
  });

  it('hashes every column of the row when the spec has no id, whatever their order', async () => {
    const ab = await splits(
      penguins,
      [
        ['a', 'BIGINT'],
        ['b', 'VARCHAR'],
      ],
      `SELECT i AS a, 'x' AS b FROM range(200) t(i)`,
    );
    const ba = await splits(
      penguins,
      [
        ['b', 'VARCHAR'],
        ['a', 'BIGINT'],
      ],
      `SELECT 'x' AS b, i AS a FROM range(200) t(i)`,
    );
    expect(ba).toEqual(ab);
    expect(new Set(ab).size).toBe(3);
  });
});
