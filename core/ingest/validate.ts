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
/** A JSON line or array element that is valid JSON but no object (42, [1, 2], null): no row. */
export const NOT_AN_OBJECT: FieldProblem = { field: '(line)', reason: 'not a JSON object' };

export type RowOutcome =
  | { readonly ok: true; readonly row: CleanRow }
  | { readonly ok: false; readonly problems: readonly FieldProblem[] };

/** A record the reader could not read as a row (NOT_JSON's, or a CSV row of another width than its header), and why. */
export const unreadableProblem = (reason: string): FieldProblem => ({ field: NOT_JSON.field, reason });

/** The outcome of such a record: what rowValidator would say of it if it could read it. */
export const unreadableRow = (reason: string): RowOutcome => ({
  ok: false,
  problems: [unreadableProblem(reason)],
});

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

/** Whether the day is in the calendar (proleptic Gregorian): not Feb 30, nor Feb 29 of 2001. */
const inCalendar = (year: number, month: number, day: number): boolean => {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= (month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0))
  );
};

/**
 * "2001-01-19T09:23:00" (or with a space) as epoch ms when every part is a real date and time,
 * else undefined for parseTimestamp's other forms to decide (24:00, a year before 100, which
 * Date.UTC would take for 19xx). This is the form events and files carry, and the cheapest to read.
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
  if (year < 100 || !inCalendar(year, month, day) || hour < 0 || hour > 23) return undefined;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
};

const TIME = String.raw`(?:(?:T|\s+)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?`;
const ZONE = String.raw`\s*(?:Z|UTC|GMT)?(?:\s*([+-])(\d{2})(?::?(\d{2}))?)?`;
const WORD = String.raw`([a-z]{3,9})\.?`;
const DAY = String.raw`(\d{1,2})(?:st|nd|rd|th)?`;
const form = (date: string) => new RegExp(`^${date}${TIME}${ZONE}$`, 'i');
/**
 * The forms of a timestamp, each a date, then optionally "T" or white space and a time (one- or
 * two-digit fields, as DuckDB's strptime reads them; seconds and a fraction optional), then
 * optionally a zone: Z, UTC, GMT, an offset (+02, +0200, +02:00), or GMT and an offset. The date
 * is ISO 8601's, year first ("2001-01-19", or with slashes), or names its month in English either
 * way round ("Jun 12 1998", "12 June 1998", "Fri, 12 Jun 1998"). Never numbers alone that do not
 * start with the year ("01/05/2001"): which of them is the month would be a guess.
 */
const YEAR_FIRST = form(String.raw`(\d{4})([-/])(\d{1,2})\2(\d{1,2})`);
const MONTH_FIRST = form(String.raw`(?:${WORD},?\s+)?${WORD}\s+${DAY},?\s+(\d{4})`);
const DAY_FIRST = form(String.raw`(?:${WORD},?\s+)?${DAY}\s+${WORD},?\s+(\d{4})`);

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
/** 1 + the index in `names` of `word`, whole or as its first three letters (or "sept"); 0 if none. */
const nameNumber = (names: readonly string[], word: string | undefined): number => {
  const w = word?.toLowerCase();
  return (
    1 +
    names.findIndex((name) => w === name || w === name.slice(0, 3) || (w === 'sept' && name === 'september'))
  );
};

/** A text's date ([year, month, day]) and what follows it, or undefined when it is in no form. */
const dateOf = (
  text: string,
): { readonly date: readonly number[]; readonly rest: readonly (string | undefined)[] } | undefined => {
  const iso = YEAR_FIRST.exec(text);
  if (iso) return { date: [Number(iso[1]), Number(iso[3]), Number(iso[4])], rest: iso.slice(5) };
  const monthFirst = MONTH_FIRST.exec(text);
  const m = monthFirst ?? DAY_FIRST.exec(text);
  if (!m) return undefined;
  const [weekday, month, day] = monthFirst ? [m[1], m[2], m[3]] : [m[1], m[3], m[2]];
  // A word before the date must be a weekday's name, as in "Fri, 12 Jun 1998".
  if (weekday !== undefined && nameNumber(WEEKDAYS, weekday) === 0) return undefined;
  return { date: [Number(m[4]), nameNumber(MONTHS, month), Number(day)], rest: m.slice(5) };
};

/**
 * A timestamp without a zone is UTC, as Parquet and DuckDB print them ("2001-01-01 06:05:00"),
 * whatever the process's time zone: Lambda runs in UTC, a laptop may not. So Date's own parser,
 * which reads a text in any form but ISO's in local time, is not asked. A date that is not in the
 * calendar (Feb 30, which Date would make Mar 2) is no timestamp; 24:00 is the next day's start.
 * Invalid Date when the text is in none of the forms above.
 */
export const parseTimestamp = (text: string): Date => {
  const common = commonTimestamp(text);
  if (common !== undefined) return new Date(common);
  const found = dateOf(text);
  if (!found) return new Date(Number.NaN);
  const [year = 0, month = 0, day = 0] = found.date;
  const [h = '0', mi = '0', sec = '0', fraction = '', sign, oh = '0', om = '0'] = found.rest;
  const [hour, minute, second] = [Number(h), Number(mi), Number(sec)];
  const endOfDay = hour === 24 && minute === 0 && second === 0 && /^0*$/.test(fraction);
  if (!inCalendar(year, month, day) || (hour > 23 && !endOfDay) || minute > 59 || second > 59)
    return new Date(Number.NaN);
  if (Number(oh) > 23 || Number(om) > 59) return new Date(Number.NaN);
  const at = new Date(0);
  // setUTCFullYear, as Date.UTC takes a year before 100 for 19xx.
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0')));
  const offset = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return new Date(at.getTime() - offset);
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
        return {
          ok: false,
          reason: `${show(value)} is not a date or timestamp like 2001-01-19 09:23:45 or Jun 12 1998`,
        };
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
  // Names that hold another delimiter, where none is the spec's: one column, or several where the
  // values hold the spec's delimiter too ("a;b;39,1" with decimal commas, read with ",").
  const noneOfTheSpec = !found.some((name) => Object.hasOwn(spec.columns, name));
  const unmatched = noneOfTheSpec ? found : [];
  const other = OTHER_DELIMITERS.find(
    (d) => d !== spec.input.delimiter && unmatched.some((name) => name.includes(d)),
  );
  const holder = unmatched.find((name) => other !== undefined && name.includes(other));
  if (other !== undefined && holder !== undefined)
    hints.push(
      `${found.length === 1 ? 'one column' : JSON.stringify(holder)}, holding ${JSON.stringify(other)}: the spec's delimiter is ${JSON.stringify(spec.input.delimiter)}`,
    );
  // A file without a header row: its first row's values are taken for the names.
  const values = found.filter(
    (name) =>
      (name.trim() !== '' && Number.isFinite(Number(name))) ||
      !Number.isNaN(parseTimestamp(name.trim()).getTime()) ||
      Object.values(spec.columns).some((column) => column.values?.includes(name.trim())),
  );
  // Unless another delimiter explains them: cut at the wrong one, a header's line has fewer
  // fields than a row's, and DuckDB's sniffer takes a row for the header.
  if (values.length > 0 && holder === undefined && noneOfTheSpec)
    hints.push(`the first line holds values such as ${list(values.slice(0, 3))}: is the header row missing?`);
  const shown = found.length > 20 ? `${list(found.slice(0, 20))}, …` : list(found);
  return `no column ${list(missing)} in the file, which has ${found.length === 0 ? 'none: no JSON object in it has a key' : shown}${hints.length > 0 ? ` (${hints.join('; ')})` : ''}`;
};

/** A problem's reason without the value, for counting reasons across rows. */
export const reasonKind = (problem: FieldProblem): string =>
  `${problem.field}: ${problem.reason.replace(/^(".*?"|\S+) (is|are) /, '')}`;
