import type { ColumnSpec, InputFormat, PipelineSpec } from '../spec/schema';

/**
 * Row validation against the pipeline spec. A row either comes out cleaned (trimmed, coerced to
 * the column's type as the spec allows) or as the list of its problems, one per field; a bad row
 * is a value, not an exception, so a file is never lost to its first mistake.
 */
export type CleanValue = string | number | boolean | Date | null;
export type CleanRow = Record<string, CleanValue>;

export interface FieldProblem {
  readonly field: string;
  readonly reason: string;
}

/** A line the reader could not parse at all (malformed JSON): a bad row, not a bad file. */
export const NOT_JSON: FieldProblem = { field: '(line)', reason: 'not valid JSON' };

export type RowOutcome =
  | { readonly ok: true; readonly row: CleanRow }
  | { readonly ok: false; readonly problems: readonly FieldProblem[] };

/** The outcome of such a line: what rowValidator would say of it if it could be read at all. */
export const UNREADABLE_ROW: RowOutcome = { ok: false, problems: [NOT_JSON] };

const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

const show = (v: unknown): string => {
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** The digits of `text` from `at` to `end` as a number, or -1 if one is not a digit. */
const digits = (text: string, at: number, end: number): number => {
  let n = 0;
  for (let i = at; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
};

/**
 * "2001-01-19T09:23:00" (or with a space) as epoch ms when every part is a real date and time,
 * else undefined for Date's own parser to decide. This is the form events and files carry, read at
 * a third of the cost of Date's parser; outside the ranges checked here (Feb 30, 24:00, a year
 * before 100, which Date.UTC would take for 19xx) only Date's parser has the answer.
 */
const commonTimestamp = (text: string): number | undefined => {
  if (text.length !== 19) return undefined;
  const t = text.charCodeAt(10);
  if (
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    (t !== 84 && t !== 32) ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  )
    return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return undefined;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if (day > (month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] as number))) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
};

/** A timestamp without a zone is UTC, as Parquet and DuckDB print them ("2001-01-01 06:05:00"). */
export const parseTimestamp = (text: string): Date => {
  const common = commonTimestamp(text);
  if (common !== undefined) return new Date(common);
  const naive = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text);
  return new Date(naive ? `${text.replace(' ', 'T')}Z` : text);
};

type Coerced = { ok: true; value: CleanValue } | { ok: false; reason: string };

const coerce = (column: ColumnSpec, raw: unknown, nulls: ReadonlySet<string>): Coerced => {
  const value = typeof raw === 'string' ? raw.trim() : raw;
  if (
    value === null ||
    value === undefined ||
    value === '' ||
    (typeof value === 'string' && nulls.has(value))
  ) {
    return column.nullable ? { ok: true, value: null } : { ok: false, reason: 'required, but empty' };
  }
  switch (column.type) {
    case 'string': {
      const text =
        typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
      if (column.values && !column.values.includes(text)) {
        return { ok: false, reason: `${show(text)} is not one of ${column.values.join(', ')}` };
      }
      return { ok: true, value: text };
    }
    case 'number':
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
      if (!Number.isFinite(n))
        return {
          ok: false,
          reason: `${show(value)} is not a ${column.type === 'integer' ? 'whole number' : 'number'}`,
        };
      if (column.type === 'integer' && !Number.isInteger(n))
        return { ok: false, reason: `${show(value)} is not a whole number` };
      if (column.min !== undefined && n < column.min)
        return { ok: false, reason: `${n} is below the minimum ${column.min}` };
      if (column.max !== undefined && n > column.max)
        return { ok: false, reason: `${n} is above the maximum ${column.max}` };
      return { ok: true, value: n };
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      const text = String(value).toLowerCase();
      if (TRUE.has(text)) return { ok: true, value: true };
      if (FALSE.has(text)) return { ok: true, value: false };
      return { ok: false, reason: `${show(value)} is not true or false` };
    }
    case 'timestamp': {
      const date =
        value instanceof Date
          ? value
          : typeof value === 'number'
            ? new Date(value)
            : typeof value === 'string'
              ? parseTimestamp(value)
              : undefined;
      if (!date || Number.isNaN(date.getTime()))
        return { ok: false, reason: `${show(value)} is not a date or timestamp` };
      const t = date.getTime();
      if (column.min !== undefined && t < column.min)
        return { ok: false, reason: `${date.toISOString()} is before the minimum` };
      if (column.max !== undefined && t > column.max)
        return { ok: false, reason: `${date.toISOString()} is after the maximum` };
      return { ok: true, value: date };
    }
  }
};

export type RowValidator = (raw: Readonly<Record<string, unknown>>) => RowOutcome;

/**
 * Builds the validator of a spec once; it runs once per row. `without` names columns neither
 * required nor kept (inference validates records without the target it is about to predict).
 * `nullValues`: texts that mean a value is missing (a CSV file's: the spec's input.nullValues),
 * matched after trimming.
 */
export const rowValidator = (
  spec: PipelineSpec,
  { without = [], nullValues = [] }: { without?: readonly string[]; nullValues?: readonly string[] } = {},
): RowValidator => {
  const skipped = new Set(without);
  const columns = Object.entries(spec.columns).filter(([name]) => !skipped.has(name));
  const keepUnknown = spec.input.unknownColumns === 'keep';
  const nulls = new Set(nullValues);
  const known = new Set(Object.keys(spec.columns));
  return (raw) => {
    const row: CleanRow = {};
    const problems: FieldProblem[] = [];
    for (const [name, column] of columns) {
      if (!(name in raw) && !column.optional) {
        problems.push({ field: name, reason: 'missing column' });
        continue;
      }
      const result = coerce(column, raw[name], nulls);
      if (result.ok) row[name] = result.value;
      else problems.push({ field: name, reason: result.reason });
    }
    if (keepUnknown) {
      for (const [name, value] of Object.entries(raw)) {
        if (known.has(name)) continue;
        row[name] =
          value === undefined || value === '' || (typeof value === 'string' && nulls.has(value.trim()))
            ? null
            : typeof value === 'object' && value !== null && !(value instanceof Date)
              ? JSON.stringify(value)
              : (value as CleanValue);
      }
    }
    return problems.length === 0 ? { ok: true, row } : { ok: false, problems };
  };
};

/**
 * The texts that mean a value is missing in a file of `format` (rowValidator's `nullValues`): the
 * spec's for CSV, where every value is text; JSON and Parquet have null of their own.
 */
export const nullValuesOf = (spec: PipelineSpec, format: InputFormat): readonly string[] =>
  format === 'csv' ? spec.input.nullValues : [];

/** Delimiters a file of one column may have been written with instead of the spec's. */
const OTHER_DELIMITERS = [';', '\t', '|', ','];

/**
 * Why a file none of whose rows can pass is rejected as a whole, when it lacks a column of the
 * spec that is not `optional` (rowValidator would fail every row as "missing column"), or
 * undefined. `found`: the file's columns (a CSV header, a Parquet schema, every key of a JSON
 * file). The reason says what the file has instead: a name that differs only in case, or a single
 * column that holds another delimiter.
 */
export const missingColumns = (spec: PipelineSpec, found: readonly string[]): string | undefined => {
  const missing = Object.entries(spec.columns)
    .filter(([name, column]) => !column.optional && !found.includes(name))
    .map(([name]) => name);
  if (missing.length === 0) return undefined;
  const list = (names: readonly string[]) => names.map((name) => JSON.stringify(name)).join(', ');
  const hints: string[] = [];
  const folded = new Map(found.map((name) => [name.toLowerCase(), name]));
  const cased = missing.flatMap((name) => {
    const other = folded.get(name.toLowerCase());
    return other === undefined ? [] : [`${JSON.stringify(other)} for ${JSON.stringify(name)}`];
  });
  if (cased.length > 0) hints.push(`names differ in case: ${cased.join(', ')}`);
  const only = found.length === 1 ? found[0] : undefined;
  const other = OTHER_DELIMITERS.find((d) => d !== spec.input.delimiter && only?.includes(d));
  if (other !== undefined)
    hints.push(
      `one column, holding ${JSON.stringify(other)}: the spec's delimiter is ${JSON.stringify(spec.input.delimiter)}`,
    );
  const shown = found.length > 20 ? `${list(found.slice(0, 20))}, …` : list(found);
  return `no column ${list(missing)} in the file, which has ${found.length === 0 ? 'none' : shown}${hints.length > 0 ? ` (${hints.join('; ')})` : ''}`;
};

/** A problem's reason without the value, for counting reasons across rows. */
export const reasonKind = (problem: FieldProblem): string =>
  `${problem.field}: ${problem.reason.replace(/^(".*?"|\S+) (is|are) /, '')}`;
