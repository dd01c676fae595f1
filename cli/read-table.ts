import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** Rows of a CSV (header row), JSON Lines, JSON array or Parquet file, as objects by column name. */
export class InputFileError extends Error {
  override name = 'InputFileError';
}

const readerFor = (file: string): string => {
  const quoted = `'${file.replaceAll("'", "''")}'`;
  const name = file.toLowerCase().replace(/\.gz$/, '');
  switch (extname(name)) {
    case '.csv':
      return `read_csv(${quoted}, header = true, auto_detect = true)`;
    // JSON is read object by object and parsed here: DuckDB's typed reader gives a key whose values
    // are sometimes text and sometimes numbers the JSON type, which comes back quoted.
    case '.jsonl':
    case '.ndjson':
      return `read_json_objects(${quoted}, format = 'newline_delimited')`;
    case '.json':
      return `read_json_objects(${quoted}, format = 'array')`;
    case '.parquet':
      return `read_parquet(${quoted})`;
    default:
      throw new InputFileError(
        `${file}: unknown format; expected .csv, .jsonl, .json or .parquet (optionally .gz)`,
      );
  }
};

export const readRows = async (file: string): Promise<Record<string, unknown>[]> => {
  const source = readerFor(file);
  // Checked here: DuckDB's own message for it quotes the query it was given.
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw new InputFileError(`${file}: no such file`);
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT * FROM ${source}`);
    const rows = reader.getRowObjectsJS() as Record<string, unknown>[];
    return source.startsWith('read_json_objects')
      ? rows.map((row) => JSON.parse(String(row.json)) as Record<string, unknown>)
      : rows;
  } catch (cause) {
    throw new InputFileError(`${file}: ${(cause as Error).message}`, { cause });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
};
