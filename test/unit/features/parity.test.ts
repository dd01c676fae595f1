import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  compileTransform,
  type FittedFeatures,
  featureSelect,
  fitFeatures,
  fitQueries,
  LABEL_COLUMN,
  labelOf,
  OTHER_CATEGORY,
  type TrainStatistics,
} from '../../../core/features';
import { parseTimestamp } from '../../../core/ingest/validate';
import { curatedColumnName } from '../../../core/spec/catalog';
import { parseSpec } from '../../../core/spec/load';
import type { PipelineSpec } from '../../../core/spec/schema';
import { TRINO_COMPAT_MACROS } from '../../../local/athena/trino';
import { jsonDataset } from '../../support/datasets';

const spec = (name: string): PipelineSpec =>
  parseSpec(readFileSync(join(__dirname, '../../../pipelines', `${name}.yml`), 'utf8'), `${name}.yml`);

const DUCK: Record<string, string> = {
  string: 'VARCHAR',
  number: 'DOUBLE',
  integer: 'BIGINT',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
};

/**
 * The curated table as Athena sees it, in DuckDB with the local Athena's Trino macros: the generated
 * SQL runs here unchanged, and must give exactly what the TypeScript transform gives.
 */
const withTable = async <T>(
  s: PipelineSpec,
  rows: readonly Record<string, unknown>[],
  use: (query: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>,
): Promise<T> => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    for (const macro of TRINO_COMPAT_MACROS) await c.run(macro);
    await c.run('CREATE SCHEMA "mlpipe_test"');
    const columns = Object.entries(s.columns).map(
      ([name, col]) => [curatedColumnName(name), DUCK[col.type] as string, name] as const,
    );
    await c.run(
      `CREATE TABLE "mlpipe_test"."curated" (${columns.map(([n, t]) => `"${n}" ${t}`).join(', ')}, "ingest" VARCHAR, "split" VARCHAR)`,
    );
    const appender = await c.createAppender('curated', 'mlpipe_test');
    rows.forEach((row, i) => {
      for (const [, type, name] of columns) {
        const v = row[name];
        if (v === null || v === undefined) appender.appendNull();
        else if (type === 'VARCHAR') appender.appendVarchar(String(v));
        else if (type === 'DOUBLE') appender.appendDouble(Number(v));
        else if (type === 'BIGINT') appender.appendBigInt(BigInt(Math.round(Number(v))));
        else if (type === 'BOOLEAN') appender.appendBoolean(Boolean(v));
        else
          appender.appendVarchar(parseTimestamp(String(v)).toISOString().replace('T', ' ').replace('Z', ''));
      }
      appender.appendVarchar('ingest-1');
      appender.appendVarchar(i % 5 === 0 ? 'test' : 'train');
      appender.endRow();
    });
    appender.closeSync();
    return await use(
      async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[],
    );
  } finally {
    c.closeSync();
    db.closeSync();
  }
};

const table = { database: 'mlpipe_test', table: 'curated', ingestId: 'ingest-1' };

const fitInDuckDb = async (s: PipelineSpec, query: (sql: string) => Promise<Record<string, unknown>[]>) => {
  const stats: {
    rows: number;
    numeric: Record<string, number | null>;
    frequencies: Record<string, { value: string; count: number }[]>;
  } = {
    rows: 0,
    numeric: {},
    frequencies: {},
  };
  for (const q of fitQueries(s, table)) {
    const result = await query(q.sql);
    if (q.kind === 'numeric') {
      const row = result[0] ?? {};
      stats.rows = Number(row.rows);
      for (const [k, v] of Object.entries(row))
        if (k !== 'rows') stats.numeric[k] = v === null ? null : Number(v);
    } else
      stats.frequencies[q.feature as string] = result.map((r) => ({
        value: String(r.value),
        count: Number(r.count),
      }));
  }
  return fitFeatures(s, stats as TrainStatistics);
};

const compare = async (s: PipelineSpec, rows: Record<string, unknown>[]) =>
  withTable(s, rows, async (query) => {
    const fitted: FittedFeatures = await fitInDuckDb(s, query);
    const transform = compileTransform(fitted);
    for (const split of ['train', 'test']) {
      const fromSql = await query(featureSelect(fitted, table, split));
      const source = rows
        .filter((_, i) => (i % 5 === 0 ? 'test' : 'train') === split)
        .filter((r) => r[s.target.column] !== null);
      const fromTs = source.map((r) => ({
        ...transform(r),
        [LABEL_COLUMN]: labelOf(fitted.label, r[s.target.column]),
      }));
      expect(fromSql).toHaveLength(fromTs.length);
      expect(fromSql).toEqual(fromTs);
    }
    return fitted;
  });

describe('feature definitions compiled to SQL and to TypeScript', () => {
  it('give identical features and labels for every penguin, with medians and vocabularies fitted on train only', async () => {
    const rows = jsonDataset('penguins.json');
    const fitted = await compare(spec('penguins'), rows);
    expect(fitted.trainRows).toBe(rows.filter((_, i) => i % 5 !== 0).length);
    expect(fitted.features.find((f) => f.name === 'island')?.vocabulary).toEqual([
      'Biscoe',
      'Dream',
      'Torgersen',
    ]);
    expect(fitted.features.find((f) => f.name === 'beak_length')?.fill).toEqual(expect.any(Number));
  });

  it('give identical hours, weekdays, months and binary labels for flights, with rare airports folded into one category', async () => {
    const s = spec('flights');
    const limited: PipelineSpec = {
      ...s,
      features: s.features.map((f) => (f.encode === 'category' ? { ...f, maxCategories: 5 } : f)),
    };
    const rows = jsonDataset('flights-2k.json').map((r) => ({
      ...r,
      date: `${String(r.date).replace(/\//g, '-')}`,
    }));
    const fitted = await compare(limited, rows);
    expect(fitted.features.find((f) => f.name === 'origin')?.vocabulary).toHaveLength(5);
    const transform = compileTransform(fitted);
    expect(
      transform({ date: '2001-01-14 21:55:00', distance: 100, origin: 'NOWHERE', destination: null }),
    ).toEqual({
      hour: 21,
      day_of_week: 7,
      day_of_month: 14,
      month: 1,
      distance: 100,
      origin: OTHER_CATEGORY,
      destination: null,
    });
    // A text in another form is read as rowValidator reads it: UTC without a zone, whatever the
    // process's own (jest.config.js), and at its offset with one.
    const hours = [
      '2001-1-14 21:55',
      '2001-01-14T23:55:00+02:00',
      '2001-01-14 21:55:00 UTC',
      '01/14/2001 21:55',
    ].map((date) => transform({ date, distance: 100, origin: null, destination: null }).hour);
    const unread = fitted.features.find((f) => f.name === 'hour')?.fill;
    expect(hours).toEqual([21, 21, 21, unread]);
  });
});
