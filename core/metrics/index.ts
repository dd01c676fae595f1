import type { Task } from '../spec/schema';

/**
 * Evaluation metrics by task, computed the same way for a candidate and its champion.
 * Classification inputs are class indexes into `classes`; `probabilities` is row-major
 * (rows × classes; for binary tasks the probability of the positive class only).
 */
export type Metrics = Readonly<Record<string, number>>;

export interface RegressionInput {
  readonly actual: ArrayLike<number>;
  readonly predicted: ArrayLike<number>;
}

export interface ClassificationInput {
  readonly actual: ArrayLike<number>;
  readonly probabilities: ArrayLike<number>;
  readonly classCount: number;
}

export const regressionMetrics = ({ actual, predicted }: RegressionInput): Metrics => {
  const n = actual.length;
  if (n === 0) return { rmse: Number.NaN, mae: Number.NaN, r2: Number.NaN, count: 0 };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += actual[i] as number;
  mean /= n;
  let se = 0;
  let ae = 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const y = actual[i] as number;
    const d = y - (predicted[i] as number);
    se += d * d;
    ae += Math.abs(d);
    ss += (y - mean) * (y - mean);
  }
  return { rmse: Math.sqrt(se / n), mae: ae / n, r2: ss === 0 ? Number.NaN : 1 - se / ss, count: n };
};

// Log loss clips probabilities as scikit-learn does, so one confident mistake is finite.
const EPS = 1e-15;

/** Area under the ROC curve by the rank statistic (ties get their average rank). */
export const rocAuc = (actual: ArrayLike<number>, score: ArrayLike<number>): number => {
  const n = actual.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (score[a] as number) - (score[b] as number),
  );
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[order[j + 1] as number] === score[order[i] as number]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (actual[order[k] as number] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
};

export const classificationMetrics = ({
  actual,
  probabilities,
  classCount,
}: ClassificationInput): Metrics => {
  const n = actual.length;
  const binary = classCount === 2 && probabilities.length === n;
  const predictedClass = new Int32Array(n);
  let logloss = 0;
  for (let i = 0; i < n; i++) {
    const y = actual[i] as number;
    if (binary) {
      const p = Math.min(1 - EPS, Math.max(EPS, probabilities[i] as number));
      predictedClass[i] = p >= 0.5 ? 1 : 0;
      logloss -= y === 1 ? Math.log(p) : Math.log(1 - p);
    } else {
      let best = 0;
      for (let c = 1; c < classCount; c++)
        if ((probabilities[i * classCount + c] as number) > (probabilities[i * classCount + best] as number))
          best = c;
      predictedClass[i] = best;
      logloss -= Math.log(Math.min(1 - EPS, Math.max(EPS, probabilities[i * classCount + y] as number)));
    }
  }
  let correct = 0;
  const tp = new Float64Array(classCount);
  const fp = new Float64Array(classCount);
  const fn = new Float64Array(classCount);
  for (let i = 0; i < n; i++) {
    const y = actual[i] as number;
    const p = predictedClass[i] as number;
    if (y === p) {
      correct++;
      tp[y] = (tp[y] as number) + 1;
    } else {
      fp[p] = (fp[p] as number) + 1;
      fn[y] = (fn[y] as number) + 1;
    }
  }
  // Macro-F1 over the classes present in the labels or the predictions.
  let f1Sum = 0;
  let f1Classes = 0;
  for (let c = 0; c < classCount; c++) {
    const denominator = 2 * (tp[c] as number) + (fp[c] as number) + (fn[c] as number);
    if (denominator === 0) continue;
    f1Sum += (2 * (tp[c] as number)) / denominator;
    f1Classes++;
  }
  const metrics: Record<string, number> = {
    accuracy: n === 0 ? Number.NaN : correct / n,
    f1: f1Classes === 0 ? Number.NaN : f1Sum / f1Classes,
    logloss: n === 0 ? Number.NaN : logloss / n,
    count: n,
  };
  if (binary) metrics.auc = rocAuc(actual, probabilities);
  return metrics;
};

export const metricsFor = (task: Task, input: RegressionInput | ClassificationInput): Metrics =>
  task === 'regression'
    ? regressionMetrics(input as RegressionInput)
    : classificationMetrics(input as ClassificationInput);
