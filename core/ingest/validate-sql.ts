import { curatedColumnName } from '../spec/catalog';
import type { ColumnSpec, ColumnType, PipelineSpec } from '../spec/schema';
import { boundaryFractions, boundaryRank, type RankWindow } from './split';

/**
 * The row validation of validate.ts as one DuckDB SELECT, so a file's rows are checked, typed and
 * cleaned inside the engine that reads them instead of crossing into JavaScript one by one (which
 * was 96 % of ingest's time). The SQL is the fast path, not a second set of rules: it accepts a
 * value only where `rowValidator` would accept it with the same cleaned value (test/unit/ingest
 * checks this value by value); every row it does not accept goes, with its raw text, to
 * `rowValidator`, which has the last word: it names the field and reason, or finds the row good
 * after all (a timestamp in a format the SQL does not try, say) and curates it.
 * https://duckdb.org/docs/sql/functions/dateformat
 */
const q = (text: string) => `'${text.replace(/'/g, "''")}'`;
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** What String.prototype.trim removes (ECMAScript WhiteSpace and LineTerminator). */
const JS_WHITESPACE =
  ' \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
const TRUE_TEXT = ['true', 't', 'yes', 'y', '1'];
const FALSE_TEXT = ['false', 'f', 'no', 'n', '0'];
/** The timestamp forms validate.ts reads as UTC; anything else is left to it. */
const TIMESTAMP_FORMATS = [
  '%Y-%m-%d %H:%M:%S',
  '%Y-%m-%dT%H:%M:%S',
  '%Y-%m-%d %H:%M:%S.%g',
  '%Y-%m-%dT%H:%M:%S.%g',
  '%Y-%m-%d %H:%M',
  '%Y-%m-%dT%H:%M',
  '%Y-%m-%d',
];
/** Beyond 2^53 a double no longer holds every whole number, so JavaScript and BIGINT could differ. */
const MAX_SAFE = 9007199254740991;

export const DUCK_TYPE: Readonly<Record<ColumnType, string>> = {
  string: 'VARCHAR',
  number: 'DOUBLE',
  integer: 'BIGINT',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
};

interface ColumnSql {
  /** The parsed intermediate, over the raw text `s`: NULL where the text is missing or unreadable. */
  readonly parsed: string;
  /**
   * The typed value over the parsed `p`, NULL where the value is missing or fails a check: a row is
   * good where every required column's value is not NULL and every nullable one's is not NULL or
   * missing (one IS NOT NULL per column, not a chain of checks).
   */
  readonly checked: string;
}

/**
 * trim() with a list of characters costs DuckDB three times a plain trim() of spaces, so values are
 * trimmed of spaces, and a value that still starts or ends with other white space is left to
 * rowValidator (rare, and it trims it as String.prototype.trim does). Only a value that starts or
 * ends with a space is trimmed: the test costs less than the copy trim() makes of every value
 * (flights' two text columns: 80 ms against 20).
 */
const spaceTrimmed = (s: string) =>
  `NULLIF(CASE WHEN ${s} LIKE ' %' OR ${s} LIKE '% ' THEN trim(${s}) ELSE ${s} END, '')`;
const WHITESPACE_CODES = [...JS_WHITESPACE].map((c) => c.codePointAt(0)).join(', ');
const noOtherWhitespace = (x: string) =>
  `ascii(${x}) NOT IN (${WHITESPACE_CODES}) AND ascii(${x}[-1]) NOT IN (${WHITESPACE_CODES})`;
/** Only evaluated for rows whose value did not parse, so its cost is paid rarely. */
const blank = (s: string) => `(${s} IS NULL OR NULLIF(trim(${s}, ${q(JS_WHITESPACE)}), '') IS NULL)`;
const within = (x: string, column: ColumnSpec) =>
  [
    column.min !== undefined ? `${x} >= ${column.min}` : '',
    column.max !== undefined ? `${x} <= ${column.max}` : '',
  ]
    .filter(Boolean)
    .join(' AND ');
/** An integer column's range, within the span in which a double holds every whole number. */
const wholeRange = (column: ColumnSpec) =>
  `${Math.max(column.min ?? -MAX_SAFE, -MAX_SAFE)} AND ${Math.min(column.max ?? MAX_SAFE, MAX_SAFE)}`;
/** `value` where every check holds (none: always). */
const when = (checks: readonly string[], value: string) => {
  const all = checks.filter(Boolean);
  return all.length === 0 ? value : `CASE WHEN ${all.join(' AND ')} THEN ${value} END`;
};
/** The largest finite double: BETWEEN its negation and it leaves out infinities and NaN (which DuckDB sorts above them). */
const DOUBLE_MAX = '1.7976931348623157e308';

/**
 * What a scan of a CSV file's bytes found (functions/ingest/text.ts): the checks a value could
 * never fail are left out of the SQL. Where unknown (other formats), everything is checked.
 */
export interface TextFacts {
  /** Some value may hold `_`, which DuckDB reads in numbers ("1_000") and Number() does not. */
  readonly underscore: boolean;
  /**
   * Some value may start or end with white space other than spaces: the file has such a character
   * (a tab that is not the delimiter, a carriage return, anything not ASCII), or quotes, inside
   * which a value may hold a line break.
   */
  readonly otherWhitespace: boolean;
  /**
   * Some value may hold a fraction: the file has a `.`, or an exponent with a minus (`e-`, `E-`).
   * DuckDB's CSV reader rounds a fraction it reads as a whole number ("5.5" as 6), where Number()
   * keeps it, so only a file without one has its whole numbers read by the reader (`wholeNumbers`).
   */
  readonly fractions: boolean;
}

export const ANY_TEXT: TextFacts = { underscore: true, otherWhitespace: true, fractions: true };

/**
 * The common form, "2001-01-19 09:23:00", goes to DuckDB's own timestamp cast, at a third of
 * try_strptime's cost; what the cast does not take goes on to try_strptime's forms. Only text of
 * exactly that form, digit by digit: the cast also takes a sign or a space for a digit ("-001-…",
 * " 2:34:56"), or a "Z" or "." for the last one, where validate.ts reads another time or none
 * (test/unit/ingest/validate-sql.test.ts). A GLOB costs ~30 ms more of flights than two LIKEs did,
 * which let those through. try_strptime, too, reads a year of fewer than four digits (" 001-…" as
 * year 1, where validate.ts reads 2001), so it is tried only on text that starts with four.
 */
const COMMON_TIMESTAMP = '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]';
const timestampSql = (s: string) =>
  `coalesce(CASE WHEN ${s} GLOB '${COMMON_TIMESTAMP}' THEN TRY_CAST(${s} AS TIMESTAMP) END, CASE WHEN ${s} GLOB '[0-9][0-9][0-9][0-9]-*' THEN try_strptime(${s}, [${TIMESTAMP_FORMATS.map(q).join(', ')}]) END)`;

const columnSql = (column: ColumnSpec, s: string, p: string, facts: TextFacts, whole: boolean): ColumnSql => {
  switch (column.type) {
    case 'string':
      return {
        parsed: spaceTrimmed(s),
        checked: when(
          [
            facts.otherWhitespace ? noOtherWhitespace(p) : '',
            column.values ? `${p} IN (${column.values.map(q).join(', ')})` : '',
          ],
          p,
        ),
      };
    case 'number':
    case 'integer': {
      // In a file without fractions or underscores, DuckDB reads a whole number as Number() does
      // (rounding a fraction is where they part), within the span in which a double holds every
      // whole number: its BIGINT cast, or its CSV reader (`whole`), which does the same.
      if (column.type === 'integer' && (whole || (!facts.fractions && !facts.underscore)))
        return {
          parsed: whole ? s : `TRY_CAST(${s} AS BIGINT)`,
          checked: when([`${p} BETWEEN ${wholeRange(column)}`], p),
        };
      // DuckDB reads "1_000" as 1000 where Number() does not; the rest of what it reads, Number() reads alike.
      const parsed = facts.underscore
        ? `CASE WHEN contains(${s}, '_') THEN NULL ELSE TRY_CAST(${s} AS DOUBLE) END`
        : `TRY_CAST(${s} AS DOUBLE)`;
      // One BETWEEN checks the range, finiteness and, for an integer, the span in which a double
      // holds every whole number.
      if (column.type === 'number') {
        const range = `${p} BETWEEN ${column.min ?? `-${DOUBLE_MAX}`} AND ${column.max ?? DOUBLE_MAX}`;
        return { parsed, checked: when([range], p) };
      }
      // The double rounded to a BIGINT is the value when it equals the double (a whole number);
      // comparing the two costs less than trunc() and a cast after it.
      const rounded = `TRY_CAST(${p} AS BIGINT)`;
      return {
        parsed,
        checked: when([`${rounded} BETWEEN ${wholeRange(column)}`, `${rounded} = ${p}`], rounded),
      };
    }
    case 'boolean': {
      const text = `lower(${spaceTrimmed(s)})`;
      return {
        parsed: `CASE WHEN ${text} IN (${TRUE_TEXT.map(q).join(', ')}) THEN true WHEN ${text} IN (${FALSE_TEXT.map(q).join(', ')}) THEN false END`,
        checked: p,
      };
    }
    case 'timestamp':
      return { parsed: timestampSql(s), checked: when([within(`epoch_ms(${p})`, column)], p) };
  }
};

export interface ValidationSql {
  /**
   * One row per source row (in no particular order): the spec's columns typed under their curated
   * names (and unknown columns as text when the spec keeps them), and `__ok`.
   */
  readonly select: string;
  /**
   * The rows not `__ok`, in file order: `__row` (1-based), the raw text of source column i as
   * `__raw<i>`, and last `__unreadable` (why the reader could not read the record as a row, or
   * NULL). Numbering rows costs the engine its parallelism, so this runs only when `select` found
   * a failing row.
   */
  readonly failing: string;
  /** The curated columns, with their DuckDB types, in output order. */
  readonly columns: readonly (readonly [name: string, type: string])[];
  /**
   * Where the spec has a column that is not nullable: `select` without `__ok`, that column (by its
   * curated name) being NULL in exactly the rows that failed. A file of these rows holds the
   * curated columns only, so one without a failing row is curated data as it stands.
   */
  readonly marked?: { readonly select: string; readonly column: string };
}

/**
 * The column that marks a failing row in `marked`: the time split's column where it is required
 * (a file's times and its failures are then read from one column), else the first required one.
 */
const markerColumn = (spec: PipelineSpec): string | undefined => {
  const required = Object.entries(spec.columns).filter(([, column]) => !column.nullable);
  const { split } = spec;
  const time = split.by === 'time' ? required.find(([name]) => name === split.column) : undefined;
  return (time ?? required[0])?.[0];
};

/**
 * `source` is a query whose columns are `sourceColumns`, every value text or NULL, and, when the
 * reader marks records it could not read as rows (a malformed JSON line, a CSV row of another
 * width than its header), the text column `unreadable`: why, or NULL.
 * `wholeNumbers`: integer columns the reader gives as BIGINT instead of text, in a CSV file whose
 * facts have no fractions and no underscores: DuckDB's reader then takes a value as Number() does
 * (test/unit/ingest/validate-sql.test.ts), or fails the read, and the file is read as text.
 * `nullValues`: texts that mean a value is missing (rowValidator's), read as NULL where they are a
 * value's whole text once trimmed.
 */
export const validationSql = (
  spec: PipelineSpec,
  source: string,
  sourceColumns: readonly string[],
  {
    unreadable,
    facts = ANY_TEXT,
    wholeNumbers,
    nullValues = [],
  }: {
    unreadable?: string;
    facts?: TextFacts;
    wholeNumbers?: ReadonlySet<string>;
    nullValues?: readonly string[];
  } = {},
): ValidationSql => {
  const position = new Map(sourceColumns.map((name, i) => [name, i]));
  const nulls = nullValues.length > 0 ? `(${nullValues.map(q).join(', ')})` : undefined;
  // A whole-number column the reader typed holds no such text: the read fails on it (wholeNumbers).
  const rawText = (name: string) =>
    nulls === undefined || wholeNumbers?.has(name)
      ? quoteIdent(name)
      : `CASE WHEN trim(${quoteIdent(name)}, ${q(JS_WHITESPACE)}) IN ${nulls} THEN NULL ELSE ${quoteIdent(name)} END`;
  const raw = [
    ...sourceColumns.map((name, i) => `${rawText(name)} AS __s${i}`),
    `${unreadable === undefined ? 'NULL::VARCHAR' : quoteIdent(unreadable)} AS __unreadable`,
  ];
  const oks: string[] = ['__unreadable IS NULL'];
  const parsed: string[] = [];
  const checked: string[] = [];
  const values: string[] = [];
  const columns: [string, string][] = [];
  const marker = markerColumn(spec);
  // The spec's columns come first among `values`, in the spec's order.
  const markerIndex = marker === undefined ? -1 : Object.keys(spec.columns).indexOf(marker);
  let markedValue = '';
  Object.entries(spec.columns).forEach(([name, column], j) => {
    const i = position.get(name);
    // A column absent from the file fails every row unless the spec says it may be absent.
    if (i === undefined && !column.optional) oks.push('false');
    const s = i === undefined ? 'NULL::VARCHAR' : `__s${i}`;
    const whole = i !== undefined && wholeNumbers?.has(name) === true;
    const sql = columnSql(column, s, `__p${j}`, facts, whole);
    parsed.push(`${sql.parsed} AS __p${j}`);
    checked.push(`${sql.checked} AS __x${j}`);
    // A missing value is good only where the column is nullable (validate.ts' "required, but empty"):
    // NULL with text that is not blank failed a check.
    oks.push(
      column.nullable
        ? `CASE WHEN __x${j} IS NOT NULL THEN true ELSE ${whole ? `${s} IS NULL` : blank(s)} END`
        : `__x${j} IS NOT NULL`,
    );
    const curated = curatedColumnName(name);
    values.push(`__x${j} AS ${quoteIdent(curated)}`);
    // A good row's value here is never NULL (the column is not nullable), so NULL tells a failure.
    if (name === marker) markedValue = `CASE WHEN __ok THEN __x${j} END AS ${quoteIdent(curated)}`;
    columns.push([curated, DUCK_TYPE[column.type]]);
  });
  if (spec.input.unknownColumns === 'keep') {
    sourceColumns.forEach((name, i) => {
      if (name in spec.columns) return;
      const curated = curatedColumnName(name);
      values.push(`NULLIF(__s${i}, '') AS ${quoteIdent(curated)}`);
      columns.push([curated, 'VARCHAR']);
    });
  }
  // Three projections: the text parsed, the values checked, and the row's verdict over them.
  const judged = (numbered: boolean) =>
    `SELECT *, coalesce(${oks.map((ok) => `(${ok})`).join(' AND ') || 'true'}, false) AS __ok FROM (SELECT *, ${checked.join(', ') || 'NULL AS __unchecked'} FROM (SELECT *, ${parsed.join(', ') || 'NULL AS __none'} FROM (SELECT ${[...(numbered ? ['row_number() OVER () AS __row'] : []), ...raw].join(', ')} FROM (${source}))))`;
  return {
    select: `SELECT ${[...values, '__ok'].join(', ')} FROM (${judged(false)})`,
    failing: `SELECT ${['CAST(__row AS DOUBLE) AS __row', ...sourceColumns.map((_, i) => `__s${i} AS __raw${i}`), '__unreadable'].join(', ')} FROM (${judged(true)}) WHERE NOT __ok`,
    columns,
    ...(marker !== undefined && {
      marked: {
        select: `SELECT ${values.map((v, k) => (k === markerIndex ? markedValue : v)).join(', ')} FROM (${judged(false)})`,
        column: curatedColumnName(marker),
      },
    }),
  };
};

/**
 * core/ingest/split's timeBoundaries over `rows` (the curated rows, `total` of them, whose time
 * column may be null): each boundary is the time at its rank, nulls ranked last (a rank among them
 * gives the latest time). The rows are counted per time and the counts summed in DuckDB; handing
 * flights' ~214,000 distinct times to JavaScript to do the same cost 117-182 ms, this 50-79.
 */
export const timeBoundariesSql = (
  spec: PipelineSpec,
  rows: string,
  total: number,
  windows?: readonly [RankWindow, RankWindow],
): string => {
  if (spec.split.by !== 'time') throw new Error(`${spec.name} is not split by time`);
  const time = `epoch_ms(${quoteIdent(curatedColumnName(spec.split.column))})`;
  // Narrowed (rankWindows), `rows` are only those of the ranges read, and the rows of the ranges
  // wholly before the rank's span are counted: never more than the rank, so no time before the
  // span can pass for the boundary.
  const at = (fraction: number, window?: RankWindow) => {
    const rank = boundaryRank(fraction, total) - (window?.before ?? 0);
    return `coalesce(min(t) FILTER (WHERE seen > ${rank} AND t IS NOT NULL), max(t), 0)`;
  };
  const [train, validation] = boundaryFractions(spec);
  return `WITH counted AS (SELECT ${time} AS t, count(*) AS n FROM (${rows}) GROUP BY t), summed AS (SELECT t, sum(n) OVER (ORDER BY t ASC NULLS LAST ROWS UNBOUNDED PRECEDING) AS seen FROM counted) SELECT ${at(train, windows?.[0])} AS "trainEnd", ${at(validation, windows?.[1])} AS "validationEnd" FROM summed`;
};

/**
 * The split of a curated row as SQL over its typed columns. By hash: the first 48 bits of the
 * SHA-256 of the pipeline's name with the id column's value (or with every column's value when the
 * spec has no id), so a row keeps its split whenever and however it arrives again. By time: the
 * boundaries (in ms) of core/ingest/split's timeBoundaries.
 */
export const splitSql = (
  spec: PipelineSpec,
  columns: readonly (readonly [name: string, type: string])[],
  bounds?: { trainEnd: number; validationEnd: number },
): string => {
  if (spec.split.by === 'time') {
    if (!bounds) throw new Error('a time split needs its boundaries');
    const t = `epoch_ms(${quoteIdent(curatedColumnName(spec.split.column))})`;
    return `CASE WHEN ${t} <= ${bounds.trainEnd} THEN 'train' WHEN ${t} <= ${bounds.validationEnd} THEN 'validation' ELSE 'test' END`;
  }
  const text = (name: string) => `coalesce(CAST(${quoteIdent(name)} AS VARCHAR), chr(1))`;
  // NUL separates the parts (as a function: a query is a C string, so it cannot hold one itself).
  const parts =
    spec.id !== undefined
      ? [q(spec.name), q('id'), text(curatedColumnName(spec.id))]
      : [
          q(spec.name),
          q('row'),
          ...[...columns]
            .map(([name]) => name)
            .sort()
            .flatMap((name) => [q(name), text(name)]),
        ];
  // One concat() call, not a chain of ||: each || made an intermediate string, and building the key
  // that way cost twice the SHA-256 of it.
  const hash = `sha256(concat(${parts.join(', chr(0), ')}))`;
  // u = (the hash's first 48 bits) / 2^48 is below a fraction f exactly when those bits, as an
  // integer, are below ceil(f * 2^48) (exact in a double), so the hex text is compared with that
  // bound's hex instead of being parsed: a longer string with the same first 12 digits sorts after
  // them, as the equal number is not below. Same splits as parsing, a third less work.
  const below = (fraction: number) => {
    const bound = Math.ceil(fraction * 2 ** 48);
    return bound >= 2 ** 48 ? 'true' : `${hash} < ${q(bound.toString(16).padStart(12, '0'))}`;
  };
  const first = spec.split.train;
  const second = spec.split.train + spec.split.validation;
  return `CASE WHEN ${below(first)} THEN 'train' WHEN ${below(second)} THEN 'validation' ELSE 'test' END`;
};
