import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
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

export const readChannel = async (dir: string, name: string): Promise<ChannelData> => {
  const files = filesBelow(dir).sort();
  const parquet = files.filter((f) => f.endsWith('.parquet'));
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
