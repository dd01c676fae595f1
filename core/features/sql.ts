import { curatedColumnName } from '../spec/catalog';
import type { PipelineSpec } from '../spec/schema';
import {
  type Extract,
  type FittedFeature,
  type FittedFeatures,
  type FittedLabel,
  LABEL_COLUMN,
  neededStatistic,
  OTHER_CATEGORY,
} from './fitted';

/**
 * Feature definitions compiled to Athena (Trino) SQL: the fit queries that measure the train split,
 * and per split the query whose result is the trainer's channel. Only functions Trino and DuckDB
 * share, or that the local Athena maps one to one (see local/athena/trino.ts), are used, so the
 * parity test can run the very same text in DuckDB.
 * https://trino.io/docs/current/functions/datetime.html
 */
export interface CuratedTable {
  readonly database: string;
  readonly table: string;
  readonly ingestId: string;
}

export const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const quoteString = (text: string): string => `'${text.replace(/'/g, "''")}'`;
const literal = (v: number | string): string =>
  typeof v === 'number' ? `CAST(${String(v)} AS DOUBLE)` : quoteString(v);

const TRINO_EXTRACT: Readonly<Record<Extract, string>> = {
  hour: 'hour',
  dayOfWeek: 'day_of_week',
  dayOfMonth: 'day_of_month',
  month: 'month',
  year: 'year',
};

const fromClause = (t: CuratedTable, split: string): string =>
  `FROM ${quoteIdentifier(t.database)}.${quoteIdentifier(t.table)} WHERE "ingest" = ${quoteString(t.ingestId)} AND "split" = ${quoteString(split)}`;

/** The feature's value before any fill: a DOUBLE for numeric features, a VARCHAR for categories. */
const rawExpression = (f: Pick<FittedFeature, 'column' | 'type' | 'extract' | 'kind'>): string => {
  const column = quoteIdentifier(f.column);
  if (f.extract) return `CAST(${TRINO_EXTRACT[f.extract]}(${column}) AS DOUBLE)`;
  if (f.kind === 'numeric') return `CAST(${column} AS DOUBLE)`;
  // Whole numbers print the same in Trino, DuckDB and JavaScript only as BIGINT.
  if (f.type === 'integer') return `CAST(CAST(${column} AS BIGINT) AS VARCHAR)`;
  return `CAST(${column} AS VARCHAR)`;
};

const featureExpression = (f: FittedFeature): string => {
  const raw = rawExpression(f);
  if (f.kind === 'numeric') return f.fill === null ? raw : `COALESCE(${raw}, ${literal(f.fill)})`;
  const missing = f.fill === null ? 'NULL' : literal(f.fill);
  const vocabulary = f.vocabulary ?? [];
  const known =
    vocabulary.length > 0 ? `WHEN ${raw} IN (${vocabulary.map(quoteString).join(', ')}) THEN ${raw} ` : '';
  return `CASE WHEN ${raw} IS NULL THEN ${missing} ${known}ELSE ${quoteString(OTHER_CATEGORY)} END`;
};

const labelExpression = (label: FittedLabel): string => {
  const column = quoteIdentifier(label.column);
  if (label.task === 'regression') return `CAST(${column} AS DOUBLE)`;
  if (label.task === 'multiclass') return `CAST(${column} AS VARCHAR)`;
  let holds: string;
  const p = label.positive;
  if (p) {
    const tests: string[] = [];
    const n = `CAST(${column} AS DOUBLE)`;
    if (p.gt !== undefined) tests.push(`${n} > ${p.gt}`);
    if (p.gte !== undefined) tests.push(`${n} >= ${p.gte}`);
    if (p.lt !== undefined) tests.push(`${n} < ${p.lt}`);
    if (p.lte !== undefined) tests.push(`${n} <= ${p.lte}`);
    if (p.eq !== undefined) tests.push(`CAST(${column} AS VARCHAR) = ${quoteString(String(p.eq))}`);
    holds = tests.length > 0 ? tests.join(' AND ') : 'FALSE';
  } else if (label.positiveValue !== undefined) {
    holds = `CAST(${column} AS VARCHAR) = ${quoteString(label.positiveValue)}`;
  } else {
    holds = `CAST(${column} AS BOOLEAN)`;
  }
  return `CASE WHEN ${holds} THEN 1 ELSE 0 END`;
};

/** The SELECT that turns a split of curated rows into feature rows plus the label. */
export const featureSelect = (fitted: FittedFeatures, table: CuratedTable, split: string): string => {
  const columns = [
    ...fitted.features.map((f) => `${featureExpression(f)} AS ${quoteIdentifier(f.name)}`),
    `${labelExpression(fitted.label)} AS ${quoteIdentifier(LABEL_COLUMN)}`,
  ];
  // Rows without a target cannot be learned from or scored; ingest keeps them only if the spec allows nulls.
  return `SELECT ${columns.join(', ')} ${fromClause(table, split)} AND ${quoteIdentifier(fitted.label.column)} IS NOT NULL`;
};

/**
 * Athena UNLOAD of a split's features to Parquet under `destination` (an s3:// prefix, which must be
 * empty: https://docs.aws.amazon.com/athena/latest/ug/unload.html).
 */
export const featureUnload = (
  fitted: FittedFeatures,
  table: CuratedTable,
  split: string,
  destination: string,
): string =>
  `UNLOAD (${featureSelect(fitted, table, split)}) TO ${quoteString(destination)} WITH (format = 'PARQUET', compression = 'SNAPPY')`;

export interface FitQuery {
  /** `numeric` returns one row: rows, then one column per feature name; `frequencies` returns value, count. */
  readonly kind: 'numeric' | 'frequencies';
  readonly feature?: string;
  readonly sql: string;
}

/** The queries whose answers fitFeatures needs, all over the train split only. */
export const fitQueries = (spec: PipelineSpec, table: CuratedTable): FitQuery[] => {
  const from = fromClause(table, 'train');
  const numeric: string[] = ['count(*) AS "rows"'];
  const queries: FitQuery[] = [];
  for (const f of spec.features) {
    const column = spec.columns[f.from];
    if (!column) continue;
    const raw = rawExpression({
      column: curatedColumnName(f.from),
      type: column.type,
      ...(f.extract ? { extract: f.extract } : {}),
      kind: f.encode === 'category' ? 'category' : 'numeric',
    });
    const needed = neededStatistic(f);
    if (needed === 'median') numeric.push(`approx_percentile(${raw}, 0.5) AS ${quoteIdentifier(f.name)}`);
    else if (needed === 'mean') numeric.push(`avg(${raw}) AS ${quoteIdentifier(f.name)}`);
    else if (needed === 'frequencies') {
      const limit = f.encode === 'category' ? f.maxCategories : 1;
      queries.push({
        kind: 'frequencies',
        feature: f.name,
        // Ties broken by value, so the vocabulary is the same on every run.
        sql: `SELECT v AS "value", count(*) AS "count" FROM (SELECT ${raw} AS v ${from}) WHERE v IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v LIMIT ${limit}`,
      });
    }
  }
  return [{ kind: 'numeric', sql: `SELECT ${numeric.join(', ')} ${from}` }, ...queries];
};
