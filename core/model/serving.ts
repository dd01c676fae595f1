import { compileFeatures, parseFittedFeatures } from '../features/transform';
import type { ModelBundle } from './bundle';
import { rowEncoder } from './encoding';
import { createScorer, type Scored, type ScorerOptions } from './scorer';

/**
 * A model as it serves: raw records (keyed by the spec's column names) → the bundle's own fitted
 * feature transform → the model's encodings → one onnxruntime call. Evaluation, `mlpipe predict`
 * and inference all score through this, so what the gate measured is what serves.
 */
export interface ServingModel {
  readonly version: string;
  readonly classes?: readonly string[];
  /** The raw columns it reads: its fitted features' source columns, or its encodings' columns. */
  readonly columns: readonly string[];
  predict(rows: readonly Readonly<Record<string, unknown>>[]): Promise<Scored>;
  /** predict's two steps apart, so a caller can tell the transform's time from the model's. */
  encode(rows: readonly Readonly<Record<string, unknown>>[]): Float32Array;
  run(matrix: Float32Array, rows: number): Promise<Scored>;
  release(): Promise<void>;
}

export const loadServingModel = async (
  bundle: ModelBundle,
  options: ScorerOptions = {},
): Promise<ServingModel> => {
  const scorer = await createScorer(bundle, options);
  const { manifest } = bundle;
  const fitted =
    manifest.features === undefined
      ? undefined
      : parseFittedFeatures(manifest.features, `model ${manifest.version}: manifest.json features`);
  const inputs = new Set(manifest.encodings.map((e) => e.column));
  const encode = rowEncoder(manifest.encodings, fitted === undefined ? undefined : compileFeatures(fitted));
  return {
    version: manifest.version,
    ...(manifest.classes ? { classes: manifest.classes } : {}),
    columns: [
      ...new Set(fitted ? fitted.features.filter((f) => inputs.has(f.name)).map((f) => f.from) : [...inputs]),
    ],
    predict: (rows) => scorer.score(encode(rows), rows.length),
    encode,
    run: (matrix, rows) => scorer.score(matrix, rows),
    release: () => scorer.release(),
  };
};
