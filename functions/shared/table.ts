import { tmpdir } from 'node:os';
import { DuckDBInstance } from '@duckdb/node-api';
import type { InputFormat } from '../../core/spec/schema';

/**
 * DuckDB as ingest's file engine: it reads every input format in chunks (every value as text, so
 * the pipeline spec, not a type guess, decides what a value means) and writes the curated Parquet.
 * https://duckdb.org/docs/data/csv/overview
 */
const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * DuckDB takes up to 80 % of the machine's memory by default, whatever the file; a cap makes it spill
 * to disk instead (Lambda's /tmp), so a file far larger than memory is read and written in bounded
 * memory. https://duckdb.org/docs/configuration/overview
 */
const ENGINE = { threads: '2', memory_limit: '512MB' } as const;

export class TableReadError extends Error {
  override name = 'TableReadError';
}

export const readerSql = (
  file: string,
  format: InputFormat,
  delimiter: string,
  maxLineBytes: number,
): string => {
  switch (format) {
    case 'csv':
      return `SELECT * FROM read_csv(${quote(file)}, header = true, all_varchar = true, delim = ${quote(delimiter)}, quote = '"', escape = '"', strict_mode = true, null_padding = false, max_line_size = ${maxLineBytes})`;
    case 'jsonl':
      return `SELECT COLUMNS(*)::VARCHAR FROM read_json(${quote(file)}, format = 'newline_delimited', records = true, maximum_object_size = ${maxLineBytes})`;
    case 'json':
      return `SELECT COLUMNS(*)::VARCHAR FROM read_json(${quote(file)}, format = 'array', records = true, maximum_object_size = ${maxLineBytes})`;
    case 'parquet':
      return `SELECT COLUMNS(*)::VARCHAR FROM read_parquet(${quote(file)})`;
  }
};

export interface TableChunks {
  readonly columns: readonly string[];
  /** Rows in file order, a DuckDB chunk (2,048 rows) at a time; values are text or null. */
  chunks(): AsyncIterable<(string | null)[][]>;
  close(): void;
}

export const openTable = async (sql: string): Promise<TableChunks> => {
  const instance = await DuckDBInstance.create(':memory:', { ...ENGINE, temp_directory: tmpdir() });
  const connection = await instance.connect();
  const close = () => {
    connection.closeSync();
    instance.closeSync();
  };
  try {
    const result = await connection.stream(sql);
    return {
      columns: result.columnNames(),
      chunks: async function* () {
        try {
          for await (const rows of result.yieldRowsJs()) yield rows as (string | null)[][];
        } catch (cause) {
          throw new TableReadError((cause as Error).message, { cause });
        }
      },
      close,
    };
  } catch (cause) {
    close();
    throw new TableReadError((cause as Error).message, { cause });
  }
};

/** The column names a query returns, without running it. */
export const columnsOf = async (sql: string): Promise<string[]> => {
  const instance = await DuckDBInstance.create(':memory:', { ...ENGINE, temp_directory: tmpdir() });
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(`SELECT * FROM (${sql}) LIMIT 0`)).columnNames();
  } catch (cause) {
    throw new TableReadError((cause as Error).message, { cause });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
};

/** Runs statements (COPY … TO … Parquet) and returns the last one's rows. */
export const runSql = async (statements: readonly string[]): Promise<Record<string, unknown>[]> => {
  const instance = await DuckDBInstance.create(':memory:', { ...ENGINE, temp_directory: tmpdir() });
  const connection = await instance.connect();
  try {
    let rows: Record<string, unknown>[] = [];
    for (const statement of statements) {
      const reader = await connection.runAndReadAll(statement);
      rows = reader.getRowObjectsJS() as Record<string, unknown>[];
    }
    return rows;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
};

export const quoteSql = quote;
