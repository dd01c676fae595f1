/**
 * How raw input columns become the float32 matrix a model takes, fitted at training time and
 * stored in the bundle so serving applies exactly what training did: numbers as they are
 * (booleans 0/1, timestamps as epoch milliseconds), categories as their index in the fitted list,
 * and anything missing or never seen as NaN, which the trees send along their learned default path.
 */
export type ColumnEncoding =
  | { readonly column: string; readonly kind: 'numeric' }
  | { readonly column: string; readonly kind: 'category'; readonly categories: readonly string[] };

export const isMissing = (v: unknown): boolean =>
  v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));

export const asNumber = (v: unknown): number => {
  if (isMissing(v)) return Number.NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.getTime();
  const n = Number(v);
  return Number.isFinite(n) ? n : Number.NaN;
};

/** One encoder per column, built once per model: rows are encoded on every request. */
export const columnEncoders = (encodings: readonly ColumnEncoding[]): ((v: unknown) => number)[] =>
  encodings.map((e) => {
    if (e.kind === 'numeric') return asNumber;
    const lookup = new Map(e.categories.map((c, i) => [c, i]));
    return (v: unknown) => (isMissing(v) ? Number.NaN : (lookup.get(String(v)) ?? Number.NaN));
  });

/**
 * Raw rows (objects keyed by the original column names) → row-major float32 [rows × columns], with
 * the encoders built once for a caller that encodes batch after batch. With
 * `features` (a model's fitted features, by name), each column is computed from the raw record and
 * encoded at once, with no record of features in between: what encoding the transformed records
 * gives, at 0.2 ms a batch of 1,000 flights against 0.35.
 */
export const rowEncoder = (
  encodings: readonly ColumnEncoding[],
  features?: ReadonlyMap<string, (row: Readonly<Record<string, unknown>>) => unknown>,
): ((rows: readonly Readonly<Record<string, unknown>>[]) => Float32Array) => {
  type Row = Readonly<Record<string, unknown>>;
  const width = encodings.length;
  const encoders = columnEncoders(encodings);
  const columns = encodings.map((e, c): ((row: Row) => number) => {
    const encode = encoders[c] as (v: unknown) => number;
    // A column the transform does not make is missing from its records, as it is from encodeRows'.
    const read = features ? (features.get(e.column) ?? (() => undefined)) : (row: Row) => row[e.column];
    return (row) => encode(read(row));
  });
  return (rows) => {
    const out = new Float32Array(rows.length * width);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as Row;
      for (let c = 0; c < width; c++) out[r * width + c] = (columns[c] as (row: Row) => number)(row);
    }
    return out;
  };
};

/** Raw rows → row-major float32 [rows × columns], for a caller that encodes once. */
export const encodeRows = (
  encodings: readonly ColumnEncoding[],
  rows: readonly Readonly<Record<string, unknown>>[],
): Float32Array => rowEncoder(encodings)(rows);

/** A mutable copy, as manifest.json stores it. */
export const copyEncodings = (encodings: readonly ColumnEncoding[]) =>
  encodings.map((e) =>
    e.kind === 'category'
      ? { column: e.column, kind: 'category' as const, categories: [...e.categories] }
      : { column: e.column, kind: 'numeric' as const },
  );
