import { DuckDBInstance } from '@duckdb/node-api';

/** Rows of Parquet files (a curated split), as plain objects. */
export const readParquetRows = async (files: readonly string[]): Promise<Record<string, unknown>[]> => {
  if (files.length === 0) return [];
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  try {
    const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet([${list}], union_by_name = true)`,
    );
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
};
