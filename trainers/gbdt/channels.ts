import { closeSync, createReadStream, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createGunzip } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Table } from './dataset';

/**
 * Reads a SageMaker channel folder (input/data/<channel>): every Parquet or CSV file below it
 * (CSV with a header, optionally gzipped), as one table whose columns are matched by name.
 */
export class ChannelError extends Error {
  override name = 'ChannelError';
}

const filesBelow = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesBelow(path);
    return entry.isFile() && !entry.name.startsWith('.') && statSync(path).size > 0 ? [path] : [];
  });

const quote = (path: string): string => `'${path.replaceAll("'", "''")}'`;

export interface ChannelData extends Table {
  readonly files: readonly string[];
}

/**
 * DuckDB pads a short CSV row with nulls without a word, which would train on invented missing
 * values: every record must have as many fields as the header. Quotes may hold commas and newlines.
 */
export const checkCsvShape = async (path: string, name: string): Promise<void> => {
  const input = createReadStream(path);
  const stream = path.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  let header = -1;
  let fields = 1;
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let empty = true;
  const endRecord = () => {
    if (!empty) {
      if (header < 0) header = fields;
      else if (fields !== header) {
        throw new ChannelError(
          `channel ${name}: ${path}: line ${recordLine} has ${fields} field(s), the header has ${header}`,
        );
      }
    }
    fields = 1;
    empty = true;
    recordLine = line;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c === 0x22) quoted = !quoted;
      else if (c === 0x0a) {
        line += 1;
        if (!quoted) endRecord();
        continue;
      } else if (c === 0x2c && !quoted) fields += 1;
      if (c !== 0x0d) empty = false;
    }
  }
  endRecord();
};

/** Athena UNLOAD names its Parquet files without an extension: the magic bytes tell. */
const isParquet = (path: string): boolean => {
  if (path.endsWith('.parquet')) return true;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === 'PAR1';
  } finally {
    closeSync(fd);
  }
};

export const readChannel = async (dir: string, name: string): Promise<ChannelData> => {
  const files = filesBelow(dir).sort();
  const parquet = files.filter(isParquet);
  const csv = files.filter((f) => /\.csv(\.gz)?$/.test(f));
  const other = files.filter((f) => !parquet.includes(f) && !csv.includes(f));
  if (other.length > 0) {
    throw new ChannelError(
      `channel ${name}: ${relative(dir, other[0] as string)} is neither Parquet (.parquet) nor CSV (.csv, .csv.gz)`,
    );
  }
  if (files.length === 0) throw new ChannelError(`channel ${name}: no data files in ${dir}`);
  if (parquet.length > 0 && csv.length > 0)
    throw new ChannelError(`channel ${name}: mixes Parquet and CSV files`);
  for (const file of csv) await checkCsvShape(file, name);
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  try {
    const list = `[${files.map(quote).join(', ')}]`;
    const source =
      parquet.length > 0
        ? `read_parquet(${list}, union_by_name = true)`
        : `read_csv(${list}, header = true, union_by_name = true, auto_detect = true)`;
    const reader = await connection.runAndReadAll(`SELECT * FROM ${source}`);
    const names = reader.columnNames();
    const columns = reader.getColumnsJS() as unknown[][];
    return { names, columns, rows: reader.currentRowCount, files: files.map((f) => relative(dir, f)) };
  } catch (cause) {
    throw new ChannelError(
      `channel ${name}: cannot read ${files.length} file(s): ${(cause as Error).message}`,
      { cause },
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
};
