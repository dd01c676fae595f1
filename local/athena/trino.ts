/**
 * The local Athena runs Athena's (Trino's) SQL on DuckDB. Most of what mlpipe generates is
 * standard SQL both engines share; these macros give DuckDB the few Trino functions it lacks, one to
 * one. The feature parity test runs generated SQL through them too, so a function missing here
 * fails a test rather than a pipeline.
 * https://trino.io/docs/current/functions/datetime.html
 */
export const TRINO_COMPAT_MACROS = [
  // ISO day of the week, Monday = 1 … Sunday = 7.
  'CREATE OR REPLACE MACRO day_of_week(ts) AS isodow(ts)',
  'CREATE OR REPLACE MACRO day_of_month(ts) AS dayofmonth(ts)',
  'CREATE OR REPLACE MACRO day_of_year(ts) AS dayofyear(ts)',
  // Athena's percentile is approximate; the exact one is a valid answer to the same question.
  'CREATE OR REPLACE MACRO approx_percentile(x, p) AS quantile_cont(x, p)',
] as const;

/** Hive (Glue) column types as DuckDB declares them. */
export const duckTypeOfHive = (type: string): string => {
  const t = type.toLowerCase();
  if (t === 'string' || t.startsWith('varchar') || t.startsWith('char')) return 'VARCHAR';
  if (t === 'double' || t === 'float') return 'DOUBLE';
  if (t === 'bigint' || t === 'int' || t === 'integer' || t === 'smallint' || t === 'tinyint')
    return 'BIGINT';
  if (t === 'boolean') return 'BOOLEAN';
  if (t === 'timestamp') return 'TIMESTAMP';
  if (t === 'date') return 'DATE';
  return 'VARCHAR';
};

/** DuckDB result types as Athena names them in ResultSetMetadata. */
export const athenaTypeOfDuck = (type: string): string => {
  const t = type.toUpperCase();
  if (t === 'VARCHAR') return 'varchar';
  if (t === 'DOUBLE' || t === 'FLOAT') return 'double';
  if (t === 'BIGINT' || t === 'HUGEINT' || t === 'UBIGINT') return 'bigint';
  if (t === 'INTEGER') return 'integer';
  if (t === 'BOOLEAN') return 'boolean';
  if (t.startsWith('TIMESTAMP')) return 'timestamp';
  if (t === 'DATE') return 'date';
  if (t.startsWith('DECIMAL')) return 'decimal';
  return 'varchar';
};

export interface TableReference {
  readonly database: string;
  readonly table: string;
}

/** The catalog tables a query reads: `"db"."table"`, `db.table`, or a bare name in the context database. */
export const tableReferences = (sql: string, contextDatabase: string | undefined): TableReference[] => {
  const found = new Map<string, TableReference>();
  const name = String.raw`(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_]*))`;
  const pattern = new RegExp(String.raw`\b(?:FROM|JOIN)\s+${name}(?:\s*\.\s*${name})?`, 'gi');
  for (const m of sql.matchAll(pattern)) {
    const first = (m[1] ?? m[2] ?? '').replace(/""/g, '"');
    const second = (m[3] ?? m[4])?.replace(/""/g, '"');
    if (first === '' || (first.toUpperCase() === 'SELECT' && !second)) continue;
    const reference = second
      ? { database: first.toLowerCase(), table: second.toLowerCase() }
      : contextDatabase
        ? { database: contextDatabase.toLowerCase(), table: first.toLowerCase() }
        : undefined;
    if (reference) found.set(`${reference.database}.${reference.table}`, reference);
  }
  return [...found.values()];
};

export interface UnloadStatement {
  readonly select: string;
  readonly destination: string;
  readonly format: string;
  readonly compression?: string;
}

/** `UNLOAD (SELECT …) TO 's3://…' WITH (format = 'PARQUET', …)`: https://docs.aws.amazon.com/athena/latest/ug/unload.html */
export const parseUnload = (sql: string): UnloadStatement | undefined => {
  const m = /^\s*UNLOAD\s*\(([\s\S]*)\)\s*TO\s*'((?:[^']|'')*)'\s*WITH\s*\(([\s\S]*)\)\s*;?\s*$/i.exec(sql);
  if (!m?.[1] || !m[2] || m[3] === undefined) return undefined;
  const options = Object.fromEntries(
    [...m[3].matchAll(/([a-z_]+)\s*=\s*'([^']*)'/gi)].map((o) => [String(o[1]).toLowerCase(), String(o[2])]),
  );
  return {
    select: m[1],
    destination: m[2].replace(/''/g, "'"),
    format: (options.format ?? 'PARQUET').toUpperCase(),
    ...(options.compression ? { compression: options.compression.toUpperCase() } : {}),
  };
};
