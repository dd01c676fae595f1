import { type Metrics, metricsFor } from '../metrics';
import type { PipelineSpec } from '../spec/schema';
import { targetLabel } from '../spec/target';

/**
 * Scores a model on the test split through the serving path (raw rows → the bundle's own feature
 * transform → ONNX), so the metrics describe the model as inference will run it. Candidate and
 * champion are scored on the same rows; each with its own fitted transform.
 */
export interface Predictor {
  readonly version: string;
  /** Class names in probability order, for classifiers (binary: ["0", "1"]). */
  readonly classes?: readonly string[];
  predict(rows: readonly Record<string, unknown>[]): Promise<{
    readonly predictions: ArrayLike<number> | readonly (string | number)[];
    /** rows × classes, row-major. */
    readonly probabilities?: ArrayLike<number>;
  }>;
}

export interface TestScore {
  readonly version: string;
  readonly metrics: Metrics;
  /** Rows scored, and rows left out with why (a missing target, a class the model never saw). */
  readonly rows: number;
  readonly skipped: Readonly<Record<string, number>>;
}

export class EvaluationError extends Error {
  override name = 'EvaluationError';
}

export const scoreTestSplit = async (
  spec: PipelineSpec,
  rows: readonly Record<string, unknown>[],
  predictor: Predictor,
): Promise<TestScore> => {
  const skipped: Record<string, number> = {};
  const skip = (why: string) => {
    skipped[why] = (skipped[why] ?? 0) + 1;
  };
  const kept: Record<string, unknown>[] = [];
  const actual: number[] = [];
  const task = spec.target.task;
  const classes = predictor.classes ?? [];
  if (task !== 'regression' && classes.length < 2) {
    throw new EvaluationError(`model ${predictor.version} of ${spec.name} names fewer than two classes`);
  }
  for (const row of rows) {
    const label = targetLabel(spec, row[spec.target.column]);
    if (label === null) {
      skip(`missing target ${spec.target.column}`);
      continue;
    }
    let y: number;
    if (task === 'regression' || task === 'binary') y = label as number;
    else {
      y = classes.indexOf(String(label));
      if (y < 0) {
        skip(`class not seen in training`);
        continue;
      }
    }
    kept.push(row);
    actual.push(y);
  }
  if (kept.length === 0) {
    throw new EvaluationError(
      `no row of the ${spec.name} test split can be evaluated: ${JSON.stringify(skipped)}`,
    );
  }
  const output = await predictor.predict(kept);
  if (task === 'regression') {
    return {
      version: predictor.version,
      metrics: metricsFor(task, { actual, predicted: Array.from(output.predictions, Number) }),
      rows: kept.length,
      skipped,
    };
  }
  const probabilities = output.probabilities;
  if (!probabilities || probabilities.length !== kept.length * classes.length) {
    throw new EvaluationError(
      `model ${predictor.version} returned ${probabilities?.length ?? 0} probabilities for ${kept.length} rows × ${classes.length} classes`,
    );
  }
  // Binary metrics take the probability of the positive class (class "1") only.
  const scores =
    task === 'binary'
      ? Float64Array.from({ length: kept.length }, (_, i) => probabilities[i * 2 + 1] as number)
      : probabilities;
  return {
    version: predictor.version,
    metrics: metricsFor(task, { actual, probabilities: scores, classCount: classes.length }),
    rows: kept.length,
    skipped,
  };
};
