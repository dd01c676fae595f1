import { tmpdir } from 'node:os';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { NOT_AN_OBJECT, NOT_JSON } from '../../core/ingest/validate';
import { quoteIdent } from '../../core/ingest/validate-sql';
import type { InputFormat } from '../../core/spec/schema';
import { blankByteOrderMark, lineEndings, readHead } from './files';

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

/**
 * Why an object cannot be read, for its report. DuckDB's message names the scratch copy it read
 * ('Malformed JSON in file "/tmp/mlpipe-ingest-…/source"'), which means nothing to whoever dropped
 * the object: the object's name stands in its place, and the message loses the class of error it
 * starts with ("Invalid Input Error: ").
 */
export const unreadableObjectReason = (error: TableReadError, scratch: string, name: string): string => {
  const within = new RegExp(`${scratch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^"'\\s]*`, 'g');
  const said = (error.message.split('\n')[0] ?? '').replace(/^(?:[A-Z][A-Za-z]* )+Error: /, '').trim();
  return `cannot be read as ${name}: ${said.replace(within, () => name)}`;
};

const csvOptions = (delimiter: string, maxLineBytes: number) =>
  `header = true, all_varchar = true, delim = ${quote(delimiter)}, quote = '"', escape = '"', strict_mode = true, null_padding = false, max_line_size = ${maxLineBytes}`;

const readerSql = (file: string, format: InputFormat, delimiter: string, maxLineBytes: number): string => {
  switch (format) {
    case 'csv':
      return `SELECT * FROM read_csv(${quote(file)}, ${csvOptions(delimiter, maxLineBytes)})`;
    case 'jsonl':
    case 'json':
      // With ignore_errors a malformed line is a NULL object (the line is kept, not skipped), so it can
      // be quarantined as a bad row instead of failing the file.
      return `SELECT json FROM read_json_objects(${quote(file)}, format = ${format === 'json' ? "'array'" : "'newline_delimited', ignore_errors = true"}, maximum_object_size = ${maxLineBytes})`;
    case 'parquet':
      return `SELECT COLUMNS(*)::VARCHAR FROM read_parquet(${quote(file)})`;
  }
};

export interface Source {
  /** A query of the file's rows in file order, every value as text (or NULL). */
  readonly sql: string;
  readonly columns: readonly string[];
  /**
   * A text column of `sql`, not among `columns`: why the reader could not read the record as a row
   * (a malformed JSON line, a CSV row of too few or too many fields), NULL where it could.
   */
  readonly unreadable?: string;
  /** A Parquet file's own column types (DuckDB's names), which `sql` casts to text. */
  readonly types?: ReadonlyMap<string, string>;
  /**
   * A strict CSV reader's: the file read again by openRaggedCsv, for when `sql` stops in it, as it
   * does at a row of another width than the header past the rows the sniffer sampled.
   */
  readonly ragged?: (session: Sql) => Promise<Source>;
  /**
   * A CSV file's reader as `sql`, but with the `columns` given read as BIGINT by DuckDB's reader,
   * which costs less than reading them as text and casting after (flights: ~60 ms of ~530): a
   * value that is not a whole number then fails the read. Undefined when the sniffer's reader is
   * not in the form this rewrites.
   */
  readonly withWholeNumbers?: (columns: readonly string[]) => string | undefined;
}

/**
 * A file as rows of text. JSON is read object by object, each value taken as its JSON text (a
 * string without its quotes): DuckDB's own JSON reader guesses a type per key from a sample, so a
 * title that is sometimes a number came back quoted, and a value unlike the sample failed the file.
 * The keys are every key of every object, in order of first appearance. A JSON file's byte order
 * mark is overwritten in place (blankByteOrderMark): the file is a scratch copy of an object.
 */
const UNREADABLE = '__mlpipe_unreadable';

export const openSource = async (
  file: string,
  format: InputFormat,
  delimiter: string,
  maxLineBytes: number,
  session?: Sql,
): Promise<Source> => {
  const on = <T>(use: (sql: Sql) => Promise<T>): Promise<T> => (session ? use(session) : withSql(use));
  const reader = readerSql(file, format, delimiter, maxLineBytes);
  if (format === 'parquet') {
    const types = await parquetColumnTypes(file, on);
    return { sql: reader, columns: [...types.keys()], types };
  }
  if (format === 'csv') return on((sql) => sniffedCsv(file, delimiter, maxLineBytes, sql));
  blankByteOrderMark(file);
  const keys = await on((sql) =>
    sql.read(
      `SELECT k FROM (SELECT r, unnest(ks) AS k, unnest(range(len(ks))) AS i FROM (SELECT row_number() OVER () AS r, json_keys(json) AS ks FROM (${reader}))) GROUP BY k ORDER BY min(r), arg_min(i, r)`,
    ),
  );
  const columns = keys.map((row) => String(row.k));
  const path = (key: string) => quote(`$."${key.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  return {
    sql: `SELECT ${[...columns.map((key) => `json->>${path(key)} AS ${quoteIdent(key)}`), `CASE WHEN json IS NULL THEN ${quote(NOT_JSON.reason)} WHEN json_type(json) <> 'OBJECT' THEN ${quote(NOT_AN_OBJECT.reason)} END AS ${UNREADABLE}`].join(', ')} FROM (${reader})`,
    columns,
    unreadable: UNREADABLE,
  };
};

export interface TableChunks {
  readonly columns: readonly string[];
  /**
   * Rows in file order, a DuckDB chunk (2,048 rows) at a time; values are text or null. A read that
   * fails midway may end here as if the rows had (the Node client reads no duckdb_result_error), so
   * a caller that must have every row counts them another way: ingest against its staged write,
   * batch scoring against a count taken first.
   */
  chunks(): AsyncIterable<(string | null)[][]>;
  close(): void;
}

/** An instance of its own and a connection to it, and how to close both. */
const connect = async () => {
  const instance = await DuckDBInstance.create(':memory:', { ...ENGINE, temp_directory: tmpdir() });
  const connection = await instance.connect();
  const close = () => {
    connection.closeSync();
    instance.closeSync();
  };
  return { connection, close };
};

export const openTable = async (sql: string): Promise<TableChunks> => {
  const { connection, close } = await connect();
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

/**
 * A CSV file's reader with the dialect DuckDB's sniffer found given in full (auto_detect off), so
 * the file is sniffed once: a reader left to detect sniffs again each time it is opened (~20 ms
 * of flights' 101 MB, and ~27 ms to learn the columns). https://duckdb.org/docs/data/csv/auto_detection
 */
const sniffedCsv = async (
  file: string,
  delimiter: string,
  maxLineBytes: number,
  sql: Sql,
): Promise<Source> => {
  let sniffed: Record<string, unknown> | undefined;
  try {
    [sniffed] = await sql.read(
      `SELECT Prompt AS prompt, Columns AS columns FROM sniff_csv(${quote(file)}, ${csvOptions(delimiter, maxLineBytes)})`,
    );
  } catch (error) {
    // The sniffer finds no dialect in a file whose sample holds a row of another width.
    if (!(error instanceof TableReadError)) throw error;
    return openRaggedCsv(file, delimiter, maxLineBytes, sql);
  }
  // DuckDB 1.5 reads no rows of a file whose line endings are \r\n when `new_line` is given with
  // strict_mode, as the sniffer gives it; left to itself, the reader finds them.
  const prompt = String(sniffed?.prompt ?? '')
    .replace(/;\s*$/, '')
    .replace(/new_line='[^']*', /, '');
  const columns = ((sniffed?.columns ?? []) as { name: unknown }[]).map(({ name }) => String(name));
  // The prompt is a read_csv call of the file with every option the sniffer settled.
  if (!prompt.startsWith('FROM read_csv(') || columns.length === 0)
    throw new TableReadError(`DuckDB's sniffer gave no reader of the file (${prompt.slice(0, 80)})`);
  const asText = `columns={${columns.map((name) => `${quote(name)}: 'VARCHAR'`).join(', ')}}`;
  const withWholeNumbers = (whole: readonly string[]) => {
    const once = (text: string) =>
      prompt.indexOf(text) >= 0 && prompt.indexOf(text) === prompt.lastIndexOf(text);
    if (!once(asText) || !once('all_varchar=true, ')) return undefined;
    const typed = `columns={${columns.map((name) => `${quote(name)}: ${whole.includes(name) ? "'BIGINT'" : "'VARCHAR'"}`).join(', ')}}`;
    return `SELECT * ${prompt.replace(asText, () => typed).replace('all_varchar=true, ', '')}`;
  };
  return {
    sql: `SELECT * ${prompt}`,
    columns,
    withWholeNumbers,
    ragged: (session) => openRaggedCsv(file, delimiter, maxLineBytes, session),
  };
};

/** The fields of a CSV text's first record (RFC 4180 quotes), or undefined if it does not end in `text`. */
const firstRecord = (text: string, delimiter: string): string[] | undefined => {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[++i];
      else quoted = false;
    } else if (c === '"' && field === '' && !wasQuoted) quoted = wasQuoted = true;
    else if (c === delimiter || c === '\n' || c === '\r') {
      fields.push(field);
      if (c !== delimiter) return fields;
      field = '';
      wasQuoted = false;
    } else field += c;
  }
  return undefined;
};

/**
 * Header names as DuckDB's reader makes them: trimmed, an empty one column<i>, a repeated one
 * <name>_<n>.
 */
const columnNames = (header: readonly string[]): string[] => {
  const seen = new Map<string, number>();
  return header.map((name, i) => {
    const base = name.trim() || `column${i}`;
    const times = seen.get(base) ?? 0;
    seen.set(base, times + 1);
    return times === 0 ? base : `${base}_${times}`;
  });
};

/**
 * What a ragged file's reader reads as NULL: a text no file holds, so a field the reader pads is
 * NULL and an empty one ''.
 */
const PADDING = '\u0001';
const EXTRA_FIELD = '__mlpipe_extra_field';

/**
 * A CSV file that DuckDB's strict reader stops in, read row for row when all that stops it are
 * rows of more or fewer fields than the header: a truncated last line, a stray delimiter. Each such
 * row stays in its place, marked unreadable with its count, and is a bad row like any other. A file
 * with any other fault, such as a quote never closed, is not read: which rows it holds is
 * unknowable, so the error names the first line at fault. A ragged row is found by the reader's
 * padding (`null_padding`, a NULL in the last column, where an empty field is '') or by a field
 * beyond the header's. https://duckdb.org/docs/data/csv/reading_faulty_csv_files
 */
const openRaggedCsv = async (
  file: string,
  delimiter: string,
  maxLineBytes: number,
  sql: Sql,
): Promise<Source> => {
  const header = firstRecord(new TextDecoder().decode(readHead(file, maxLineBytes)), delimiter);
  if (header === undefined) throw new TableReadError(`its header does not end within ${maxLineBytes} bytes`);
  const columns = columnNames(header);
  const typed = (names: readonly string[]) =>
    `columns = {${names.map((name) => `${quote(name)}: 'VARCHAR'`).join(', ')}}`;
  const reader = (options: string) =>
    `read_csv(${quote(file)}, auto_detect = false, header = true, delim = ${quote(delimiter)}, quote = '"', escape = '"', max_line_size = ${maxLineBytes}, ${options})`;
  const rejects = "rejects_table = '__mlpipe_rejects', rejects_scan = '__mlpipe_rejects_scan'";
  try {
    await sql.read(
      `SELECT count(*) FROM ${reader(`${typed(columns)}, strict_mode = true, null_padding = false, ignore_errors = true, store_rejects = true, ${rejects}`)}`,
    );
  } catch (error) {
    // DuckDB 1.5's strict reader stops in a file of two kinds of line ending, saying only that it
    // "reached an invalid state".
    const { crlf, lf } = lineEndings(file);
    if (crlf === undefined || lf === undefined) throw error;
    throw new TableReadError(
      `line ${crlf} ends in \\r\\n and line ${lf} in \\n: save the file with one kind of line ending`,
      { cause: error },
    );
  }
  const [fault] = await sql.read(
    "SELECT line, error_type AS type, error_message AS message FROM __mlpipe_rejects WHERE error_type NOT IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') ORDER BY line LIMIT 1",
  );
  await sql.run(['DROP TABLE __mlpipe_rejects', 'DROP TABLE __mlpipe_rejects_scan']);
  if (fault) {
    const hint =
      fault.type === 'UNQUOTED VALUE'
        ? ' (a value that opens with a quote must close with one, and a quote inside it is written twice)'
        : '';
    throw new TableReadError(`line ${fault.line}: ${String(fault.message).replace(/\.$/, '')}${hint}`);
  }
  const width = columns.length;
  const fields = columns.map((name) => `(${quoteIdent(name)} IS NOT NULL)::INT`).join(' + ');
  const why = `CASE WHEN ${quoteIdent(EXTRA_FIELD)} IS NOT NULL THEN 'more fields than the header''s ${width}' WHEN ${quoteIdent(columns[width - 1] ?? '')} IS NULL THEN CAST(${fields} AS VARCHAR) || (CASE WHEN ${fields} = 1 THEN ' field' ELSE ' fields' END) || ', where the header has ${width}' END`;
  return {
    sql: `SELECT ${columns.map((name) => `NULLIF(${quoteIdent(name)}, '') AS ${quoteIdent(name)}`).join(', ')}, ${why} AS ${UNREADABLE} FROM ${reader(`${typed([...columns, EXTRA_FIELD])}, strict_mode = false, null_padding = true, nullstr = ${quote(PADDING)}`)}`,
    columns,
    unreadable: UNREADABLE,
  };
};

/** A Parquet file's columns and their DuckDB types, in file order. */
const parquetColumnTypes = async (
  file: string,
  on: <T>(use: (sql: Sql) => Promise<T>) => Promise<T>,
): Promise<Map<string, string>> =>
  new Map(
    (await on((sql) => sql.read(`DESCRIBE SELECT * FROM read_parquet(${quote(file)})`))).map((row) => [
      String(row.column_name),
      String(row.column_type),
    ]),
  );

/**
 * Queries on one DuckDB instance. Creating an instance costs 6-9 ms, and an ingest runs half a
 * dozen queries, so it runs them all on one (openSql).
 */
export interface Sql {
  /** Runs statements (COPY … TO … Parquet) and returns the last one's rows. */
  run(statements: readonly string[]): Promise<Record<string, unknown>[]>;
  /** run of a query over a user's file: a failure is the file's (TableReadError). */
  read(sql: string): Promise<Record<string, unknown>[]>;
}

const sqlOn = (connection: DuckDBConnection): Sql => {
  const run = async (statements: readonly string[]) => {
    let rows: Record<string, unknown>[] = [];
    for (const statement of statements) {
      const reader = await connection.runAndReadAll(statement);
      rows = reader.getRowObjectsJS() as Record<string, unknown>[];
    }
    return rows;
  };
  return {
    run,
    read: async (sql) => {
      try {
        return await run([sql]);
      } catch (cause) {
        throw new TableReadError((cause as Error).message, { cause });
      }
    },
  };
};

/**
 * An instance made now for queries to come, closed by the caller: made while a file still
 * downloads, its cost (~14 ms for a process's first) is paid meanwhile.
 */
export const openSql = async (): Promise<Sql & { readonly close: () => void }> => {
  const { connection, close } = await connect();
  return { ...sqlOn(connection), close };
};

/** `use` with a DuckDB instance of its own, closed after it whatever happens. */
export const withSql = async <T>(use: (sql: Sql) => Promise<T>): Promise<T> => {
  const sql = await openSql();
  try {
    return await use(sql);
  } finally {
    sql.close();
  }
};

export const runSql = (statements: readonly string[]): Promise<Record<string, unknown>[]> =>
  withSql((sql) => sql.run(statements));

export const quoteSql = quote;
