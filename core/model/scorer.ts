import type { InferenceSession as Session } from 'onnxruntime-node';
import type { ModelBundle } from './bundle';
import { encodeRows } from './encoding';
import type { ModelManifest } from './manifest';

/**
 * One onnxruntime-node session per model: the only way mlpipe scores (evaluation, `mlpipe predict`,
 * inference), so a metric measured at evaluation is the metric of the code that serves.
 */
export interface Scored {
  /** Regression: the value per row; classifiers: the class name per row. */
  readonly predictions: number[] | string[];
  /** Classifiers: rows × classes, in `manifest.classes` order. */
  readonly probabilities?: Float32Array;
}

export interface ModelScorer {
  readonly manifest: ModelManifest;
  /** Scores a prepared matrix (row-major float32, `manifest.inputs.length` wide). */
  score(matrix: Float32Array, rows: number): Promise<Scored>;
  /** Encodes raw rows with the model's own encodings, then scores them. */
  scoreRows(rows: readonly Readonly<Record<string, unknown>>[]): Promise<Scored>;
  release(): Promise<void>;
}

// onnxruntime-node is loaded on first use: requiring it costs tens of milliseconds a caller may not need.
let ort: typeof import('onnxruntime-node') | undefined;
const runtime = () => {
  ort ??= require('onnxruntime-node') as typeof import('onnxruntime-node');
  return ort;
};

/**
 * onnxruntime's intra-op threads spin after a run, waiting for the next one. Between two batches of
 * the stream handler they kept a core busy while the handler decoded, validated and wrote, and a
 * `session.run` right after a batch took 33 ms instead of 14 (flights, 1,000 rows, 2 cores). Without
 * the spinning, runs back to back are as fast as before, and the handler's batch took 23-24 ms, not 30.
 * https://onnxruntime.ai/docs/performance/tune-performance/threading.html
 */
const SESSION_OPTIONS: Session.SessionOptions = {
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

export interface ScorerOptions {
  /** onnxruntime's intra-op threads; 0 or none: its default, one per physical core. */
  readonly threads?: number;
}

export const createScorer = async (
  bundle: ModelBundle,
  options: ScorerOptions = {},
): Promise<ModelScorer> => {
  const { InferenceSession, Tensor } = runtime();
  const session: Session = await InferenceSession.create(
    bundle.onnx,
    options.threads ? { ...SESSION_OPTIONS, intraOpNumThreads: options.threads } : SESSION_OPTIONS,
  );
  const { manifest } = bundle;
  const width = manifest.inputs.length;
  const score = async (matrix: Float32Array, rows: number): Promise<Scored> => {
    if (rows === 0) return { predictions: [] };
    const output = await session.run({
      [manifest.onnx.inputName]: new Tensor('float32', matrix, [rows, width]),
    });
    if (manifest.task === 'regression') {
      const variable = output.variable;
      return { predictions: Array.from((variable?.data ?? []) as Float32Array) };
    }
    return {
      predictions: Array.from((output.label?.data ?? []) as string[]),
      probabilities: output.probabilities?.data as Float32Array,
    };
  };
  return {
    manifest,
    score,
    scoreRows: (rows) => score(encodeRows(manifest.encodings, rows), rows.length),
    release: () => session.release(),
  };
};
