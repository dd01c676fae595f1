import * as z from 'zod';
import { parseTimestamp } from '../ingest/validate';
import {
  type Extract,
  FEATURES_FORMAT,
  FeatureError,
  type FittedFeature,
  type FittedFeatures,
  type FittedLabel,
  OTHER_CATEGORY,
} from './fitted';

/**
 * The fitted feature definitions compiled to a TypeScript function: what inference applies to a
 * raw record (keyed by the spec's column names) before the model's own encodings. It mirrors
 * sql.ts expression for expression; test/unit/features/parity.test.ts holds the two together.
 */
export type FeatureValue = number | string | null;
export type FeatureRow = Record<string, FeatureValue>;
export type FeatureTransform = (row: Readonly<Record<string, unknown>>) => FeatureRow;

const missing = (v: unknown): boolean =>
  v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));

const toNumber = (v: unknown): number | null => {
  if (missing(v)) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  const n = Number(String(v).trim());
  return Number.isFinite(n) ? n : null;
};

/** A timestamp's text read as rowValidator reads it: without a zone, UTC, as in curated Parquet. */
const toDate = (v: unknown): Date | null => {
  if (missing(v)) return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v;
  if (typeof v === 'number') return new Date(v);
  const d = parseTimestamp(String(v).trim());
  return Number.isNaN(d.getTime()) ? null : d;
};

const EXTRACTORS: Readonly<Record<Extract, (d: Date) => number>> = {
  hour: (d) => d.getUTCHours(),
  // ISO: Monday 1 … Sunday 7, as Trino's day_of_week.
  dayOfWeek: (d) => ((d.getUTCDay() + 6) % 7) + 1,
  dayOfMonth: (d) => d.getUTCDate(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
};

/** A category feature's value as its vocabulary holds it. */
export const categoryText = (v: unknown, type: FittedFeature['type']): string | null => {
  if (missing(v)) return null;
  if (type === 'integer') {
    const n = toNumber(v);
    return n === null ? null : String(Math.round(n));
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
};

const featureFunction = (f: FittedFeature): ((row: Readonly<Record<string, unknown>>) => FeatureValue) => {
  if (f.extract) {
    const extract = EXTRACTORS[f.extract];
    return (row) => {
      const d = toDate(row[f.from]);
      return d === null ? f.fill : extract(d);
    };
  }
  if (f.kind === 'numeric') {
    return (row) => toNumber(row[f.from]) ?? f.fill;
  }
  const vocabulary = new Set(f.vocabulary ?? []);
  return (row) => {
    const text = categoryText(row[f.from], f.type);
    if (text === null) return f.fill;
    return vocabulary.has(text) ? text : OTHER_CATEGORY;
  };
};

/** Each fitted feature's function of a raw record, by feature name. */
export const compileFeatures = (
  fitted: FittedFeatures,
): ReadonlyMap<string, (row: Readonly<Record<string, unknown>>) => FeatureValue> =>
  new Map(fitted.features.map((f) => [f.name, featureFunction(f)] as const));

export const compileTransform = (fitted: FittedFeatures): FeatureTransform => {
  const functions = [...compileFeatures(fitted)];
  return (row) => {
    const out: FeatureRow = {};
    for (const [name, fn] of functions) out[name] = fn(row);
    return out;
  };
};

/** The label as the feature SQL computes it (1/0 for binary, the class name, or the number). */
export const labelOf = (label: FittedLabel, value: unknown): FeatureValue => {
  if (missing(value)) return null;
  if (label.task === 'regression') return toNumber(value);
  if (label.task === 'multiclass') return String(value);
  const p = label.positive;
  if (p) {
    const n = toNumber(value);
    const holds =
      (p.gt === undefined || (n !== null && n > p.gt)) &&
      (p.gte === undefined || (n !== null && n >= p.gte)) &&
      (p.lt === undefined || (n !== null && n < p.lt)) &&
      (p.lte === undefined || (n !== null && n <= p.lte)) &&
      (p.eq === undefined || String(value) === String(p.eq));
    return holds ? 1 : 0;
  }
  if (label.positiveValue !== undefined) return String(value) === label.positiveValue ? 1 : 0;
  return value === true || value === 'true' ? 1 : 0;
};

const fittedSchema = z.object({
  format: z.literal(FEATURES_FORMAT),
  pipeline: z.string(),
  features: z.array(z.object({ name: z.string(), from: z.string(), kind: z.enum(['numeric', 'category']) })),
  label: z.object({ from: z.string(), task: z.enum(['regression', 'binary', 'multiclass']) }),
});

/** Reads fitted features from a manifest or a features.json, naming where a broken one came from. */
export const parseFittedFeatures = (value: unknown, where: string): FittedFeatures => {
  const parsed = fittedSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FeatureError(
      `${where}: not fitted features: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return value as FittedFeatures;
};
