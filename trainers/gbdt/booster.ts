import { availableParallelism } from 'node:os';
import { HistogramBuilder, type KernelChoice } from './histogram';
import type { Hyperparameters, Objective } from './hyperparameters';
import { type Binned, binMatrix, growTree, leafOfBinned, leftOfBins, rebin, type Tree } from './trees';

/**
 * The boosting loop: squared error, logistic and softmax objectives, row and column subsampling
 * from a seeded generator, early stopping on the validation channel, and checkpoints that let a
 * restarted (spot) job end with exactly the model an uninterrupted run would have produced.
 */
export interface Booster {
  readonly objective: Objective;
  /** Trees per round: 1, or the number of classes for multiclass. */
  readonly groups: number;
  readonly featureCount: number;
  /** Per feature: its number of categories when it is split as sets, else 0. */
  readonly categoryCounts: readonly number[];
  /** Margin every row starts from, per group. */
  readonly baseScore: readonly number[];
  /** Round-major: tree of round r and group k at r * groups + k. */
  readonly trees: readonly Tree[];
  readonly bestRound: number;
  /**
   * The margins of the train and validation rows under exactly these trees, kept when training ended
   * with them (no early-stopping cut): the same numbers scoring the channel again would give, summed
   * in the same order, without the cost (on 2.4 M flights rows, longer than the training itself).
   */
  readonly trainMargins?: Float64Array;
  readonly validationMargins?: Float64Array;
}

export interface Channel {
  readonly features: readonly Float32Array[];
  readonly label: Float64Array;
  readonly rows: number;
  /**
   * Per feature: its number of categories when it holds category codes (0, 1, …), which then split
   * as sets; 0 (or absent) for a numeric feature. `prepare` fills it from the encoder.
   */
  readonly categoryCounts?: readonly number[];
}

export const CHECKPOINT_FORMAT = 'mlpipe-gbdt-checkpoint/2';

export interface Checkpoint {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly round: number;
  readonly rng: number;
  readonly baseScore: number[];
  readonly trees: Tree[];
  readonly best: { readonly round: number; readonly loss: number };
  /** The settings the checkpoint was made with; a resume with others would not reproduce the run. */
  readonly fingerprint: string;
}

export interface TrainOptions {
  readonly params: Hyperparameters;
  readonly train: Channel;
  readonly validation?: Channel;
  readonly resumeFrom?: Checkpoint;
  readonly onCheckpoint?: (checkpoint: Checkpoint) => void;
  readonly onRound?: (round: number, trainLoss: number, validationLoss: number | undefined) => void;
  /** Threads for histograms of large nodes; the model is the same for any value. */
  readonly threads?: number;
  /** Which histogram kernels run (tests compare them); the model is the same with either. */
  readonly kernels?: KernelChoice;
}

export class TrainingError extends Error {
  override name = 'TrainingError';
}

/** mulberry32: small, fast, and its whole state is one number, which a checkpoint can carry. */
class Random {
  constructor(public state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

const sigmoid = (m: number): number => 1 / (1 + Math.exp(-m));
const EPS = 1e-15;

const groupsOf = (p: Hyperparameters): number => (p.objective === 'multi:softprob' ? p.num_class : 1);

const initialScore = (p: Hyperparameters, label: Float64Array): number[] => {
  const n = label.length;
  if (p.objective === 'multi:softprob') return new Array(p.num_class).fill(0);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += label[i] as number;
  mean /= Math.max(1, n);
  if (p.objective === 'reg:squarederror') return [mean];
  const q = Math.min(1 - 1e-6, Math.max(1e-6, mean));
  return [Math.log(q / (1 - q))];
};

/** The loss early stopping watches: RMSE, log loss, or multiclass log loss (XGBoost's defaults). */
export const loss = (
  objective: Objective,
  groups: number,
  margins: Float64Array,
  label: Float64Array,
): number => {
  const n = label.length;
  if (n === 0) return Number.NaN;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const y = label[i] as number;
    if (objective === 'reg:squarederror') {
      const d = (margins[i] as number) - y;
      total += d * d;
    } else if (objective === 'binary:logistic') {
      const p = Math.min(1 - EPS, Math.max(EPS, sigmoid(margins[i] as number)));
      total -= y === 1 ? Math.log(p) : Math.log(1 - p);
    } else {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < groups; c++) max = Math.max(max, margins[i * groups + c] as number);
      let sum = 0;
      for (let c = 0; c < groups; c++) sum += Math.exp((margins[i * groups + c] as number) - max);
      const p = Math.exp((margins[i * groups + y] as number) - max) / sum;
      total -= Math.log(Math.min(1 - EPS, Math.max(EPS, p)));
    }
  }
  return objective === 'reg:squarederror' ? Math.sqrt(total / n) : total / n;
};

const addTree = (tree: Tree, binned: Binned, margins: Float64Array, groups: number, k: number): void => {
  const leftOf = leftOfBins(tree);
  for (let i = 0; i < binned.rows; i++) {
    const leaf = leafOfBinned(tree, leftOf, binned, i);
    margins[i * groups + k] = (margins[i * groups + k] as number) + (tree.value[leaf] as number);
  }
};

const fingerprintOf = (p: Hyperparameters, train: Channel, categoryCounts: readonly number[]): string =>
  JSON.stringify({
    ...p,
    num_round: undefined,
    checkpoint_rounds: undefined,
    rows: train.rows,
    features: train.features.length,
    categoryCounts,
  });

export const train = ({
  params: p,
  train: data,
  validation,
  resumeFrom,
  onCheckpoint,
  onRound,
  threads = Math.min(2, availableParallelism()),
  kernels = 'webassembly',
}: TrainOptions): Booster => {
  if (data.rows === 0) throw new TrainingError('the train channel has no usable rows');
  const groups = groupsOf(p);
  const featureCount = data.features.length;
  const categoryCounts = data.features.map((_, f) => data.categoryCounts?.[f] ?? 0);
  let binned = binMatrix(data.features, p.max_bin, categoryCounts);
  const validBinned = validation && validation.rows > 0 ? rebin(validation.features, binned.cuts) : undefined;
  const fingerprint = fingerprintOf(p, data, categoryCounts);
  if (resumeFrom && resumeFrom.fingerprint !== fingerprint) {
    throw new TrainingError(
      'the checkpoint was made with other data or hyperparameters; refusing to resume from it',
    );
  }
  const baseScore = resumeFrom?.baseScore ?? initialScore(p, data.label);
  const trees: Tree[] = resumeFrom ? [...resumeFrom.trees] : [];
  const rng = new Random(resumeFrom?.rng ?? p.seed ^ 0x5bd1e995);
  const builder = new HistogramBuilder(
    binned.bins,
    featureCount,
    data.label,
    groups,
    2 ** (p.max_depth + 1),
    threads,
    kernels,
  );
  // The builder holds its own copy of the bins (in WebAssembly memory): let the first one go.
  binned = { ...binned, bins: builder.rowMajor };
  const { margins } = builder;
  for (let i = 0; i < margins.length; i++) margins[i] = baseScore[i % groups] as number;
  const validMargins = validBinned ? new Float64Array(validBinned.rows * groups) : undefined;
  if (validMargins)
    for (let i = 0; i < validMargins.length; i++) validMargins[i] = baseScore[i % groups] as number;
  trees.forEach((tree, t) => {
    addTree(tree, binned, margins, groups, t % groups);
    if (validBinned && validMargins) addTree(tree, validBinned, validMargins, groups, t % groups);
  });
  let best = resumeFrom?.best ?? { round: -1, loss: Number.POSITIVE_INFINITY };
  const allFeatures = Int32Array.from({ length: featureCount }, (_, i) => i);
  // Row sampling as XGBoost's hist method does it: a row left out of a round keeps its place but adds
  // nothing (zero gradient and hessian), so every row still ends in a leaf and its margin moves
  // without walking the tree again. (A list of the sampled rows made subsample 0.8 2.7x slower.)
  const sampled = p.subsample < 1 ? new Uint8Array(data.rows) : undefined;
  const firstRound = resumeFrom ? resumeFrom.round + 1 : 0;
  try {
    for (let round = firstRound; round < p.num_round; round++) {
      // Sampling draws from the generator in a fixed order, so a resumed run draws the same numbers.
      if (sampled) {
        let any = 0;
        for (let i = 0; i < data.rows; i++) {
          const keep = rng.next() < p.subsample ? 1 : 0;
          sampled[i] = keep;
          any |= keep;
        }
        if (any === 0) sampled[0] = 1;
      }
      let features = allFeatures;
      if (p.colsample_bytree < 1) {
        const count = Math.max(1, Math.round(featureCount * p.colsample_bytree));
        const shuffled = Array.from(allFeatures);
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = Math.floor(rng.next() * (i + 1));
          [shuffled[i], shuffled[j]] = [shuffled[j] as number, shuffled[i] as number];
        }
        features = Int32Array.from(shuffled.slice(0, count).sort((a, b) => a - b));
      }
      const options = {
        maxDepth: p.max_depth,
        minChildWeight: p.min_child_weight,
        lambda: p.lambda,
        gamma: p.gamma,
        eta: p.eta,
        features,
        categoryCounts,
        maxSetSize: p.max_cat_threshold,
      };
      const roundTrees: Tree[] = [];
      for (let k = 0; k < groups; k++) {
        // Every group's gradients come from the margins before this round (softmax needs all of them).
        builder.computeGradients(p.objective, k);
        if (sampled) {
          const { gradients } = builder;
          for (let i = 0; i < data.rows; i++)
            if (sampled[i] === 0) {
              gradients[i * 2] = 0;
              gradients[i * 2 + 1] = 0;
            }
        }
        const tree = growTree(binned, builder, data.rows, options);
        roundTrees.push(tree);
        // Every row sits in a leaf of the tree: its output is known already. With several groups,
        // the margins move after the round: the next group's gradients need the margins from before it.
        builder.applyLeaves(tree.value, data.rows, k, groups === 1 ? 'margins' : 'deltas');
      }
      roundTrees.forEach((tree, k) => {
        trees.push(tree);
        if (validBinned && validMargins) addTree(tree, validBinned, validMargins, groups, k);
      });
      if (groups > 1) {
        const { deltas } = builder;
        for (let i = 0; i < margins.length; i++) margins[i] = (margins[i] as number) + (deltas[i] as number);
      }
      // The train loss costs a pass over every row: only when it is reported or watched.
      const report = round === firstRound || (round + 1) % 10 === 0 || round === p.num_round - 1;
      const trainLoss = report ? loss(p.objective, groups, margins, data.label) : Number.NaN;
      const validLoss =
        validation && validMargins ? loss(p.objective, groups, validMargins, validation.label) : undefined;
      onRound?.(round, trainLoss, validLoss);
      const watched = validLoss ?? trainLoss;
      if (!Number.isNaN(watched) && watched < best.loss) best = { round, loss: watched };
      const stop =
        p.early_stopping_rounds > 0 &&
        validLoss !== undefined &&
        round - best.round >= p.early_stopping_rounds;
      if (onCheckpoint && ((round + 1) % p.checkpoint_rounds === 0 || stop || round === p.num_round - 1)) {
        onCheckpoint({
          format: CHECKPOINT_FORMAT,
          round,
          rng: rng.state,
          baseScore,
          trees: [...trees],
          best,
          fingerprint,
        });
      }
      if (stop) break;
    }
  } finally {
    builder.close();
  }
  // With early stopping, the model is the best round's, as XGBoost's best_iteration.
  const keepRounds = p.early_stopping_rounds > 0 && validBinned ? best.round + 1 : trees.length / groups;
  const complete = keepRounds * groups === trees.length;
  return {
    ...(complete ? { trainMargins: Float64Array.from(margins) } : {}),
    ...(complete && validMargins ? { validationMargins: validMargins } : {}),
    objective: p.objective,
    groups,
    featureCount,
    categoryCounts,
    baseScore,
    trees: trees.slice(0, keepRounds * groups),
    bestRound: keepRounds - 1,
  };
};

/** Rows scored together, tree after tree: their values stay in cache while every tree walks them. */
const PREDICT_BLOCK = 4096;

/**
 * Raw margins for float32 rows (row-major, featureCount wide): rows × groups, with serving-time
 * semantics (thresholds on raw values, and sets of category codes, which the encoder makes 0 …
 * count-1 or NaN, as ONNX evaluates them). Each row's margin adds the trees in
 * order, but a block of rows walks one tree at a time over typed copies of its arrays: 300 trees
 * over 300k flights rows took 12 s row by row.
 */
export const predictMargins = (booster: Booster, x: Float32Array, rows: number): Float64Array => {
  const groups = booster.groups;
  const width = booster.featureCount;
  const out = new Float64Array(rows * groups);
  for (let i = 0; i < rows; i++)
    for (let k = 0; k < groups; k++) out[i * groups + k] = booster.baseScore[k] as number;
  const trees = booster.trees.map((tree) => {
    // A set split's codes as a byte per code 0 … its largest, at setAt[node] in setBytes (-1: a threshold).
    const setAt = new Int32Array(tree.feature.length).fill(-1);
    const setSpan = new Int32Array(tree.feature.length);
    let bytes = 0;
    tree.categories.forEach((set, node) => {
      if (!set) return;
      setAt[node] = bytes;
      setSpan[node] = (set[set.length - 1] ?? -1) + 1;
      bytes += setSpan[node] as number;
    });
    const setBytes = new Uint8Array(bytes);
    tree.categories.forEach((set, node) => {
      if (set) for (const code of set) setBytes[(setAt[node] as number) + code] = 1;
    });
    return {
      feature: Int32Array.from(tree.feature),
      threshold: Float64Array.from(tree.threshold),
      left: Int32Array.from(tree.left),
      right: Int32Array.from(tree.right),
      missingLeft: Uint8Array.from(tree.missingLeft),
      value: Float64Array.from(tree.value),
      setAt,
      setSpan,
      setBytes,
    };
  });
  for (let from = 0; from < rows; from += PREDICT_BLOCK) {
    const to = Math.min(rows, from + PREDICT_BLOCK);
    trees.forEach(({ feature, threshold, left, right, missingLeft, value, setAt, setSpan, setBytes }, t) => {
      const k = t % groups;
      for (let i = from; i < to; i++) {
        const base = i * width;
        let node = 0;
        for (let f = feature[0] as number; f >= 0; f = feature[node] as number) {
          const v = x[base + f] as number;
          const at = setAt[node] as number;
          const goLeft = Number.isNaN(v)
            ? missingLeft[node] === 1
            : at < 0
              ? v <= (threshold[node] as number)
              : Number.isInteger(v) && v >= 0 && v < (setSpan[node] as number) && setBytes[at + v] === 1;
          node = (goLeft ? left[node] : right[node]) as number;
        }
        out[i * groups + k] = (out[i * groups + k] as number) + (value[node] as number);
      }
    });
  }
  return out;
};

/** Predictions as serving returns them: values (regression) or class probabilities rows × classes. */
export const predict = (
  booster: Booster,
  x: Float32Array,
  rows: number,
): { values?: Float64Array; probabilities?: Float64Array } =>
  predictionsOfMargins(booster, predictMargins(booster, x, rows), rows);

/** Margins (rows × groups) as serving returns them: values, or class probabilities rows × classes. */
export const predictionsOfMargins = (
  booster: Booster,
  margins: Float64Array,
  rows: number,
): { values?: Float64Array; probabilities?: Float64Array } => {
  if (booster.objective === 'reg:squarederror') return { values: margins };
  if (booster.objective === 'binary:logistic') {
    const probabilities = new Float64Array(rows * 2);
    for (let i = 0; i < rows; i++) {
      const p = sigmoid(margins[i] as number);
      probabilities[i * 2] = 1 - p;
      probabilities[i * 2 + 1] = p;
    }
    return { probabilities };
  }
  const g = booster.groups;
  const probabilities = new Float64Array(rows * g);
  for (let i = 0; i < rows; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < g; c++) max = Math.max(max, margins[i * g + c] as number);
    let sum = 0;
    for (let c = 0; c < g; c++) sum += Math.exp((margins[i * g + c] as number) - max);
    for (let c = 0; c < g; c++)
      probabilities[i * g + c] = Math.exp((margins[i * g + c] as number) - max) / sum;
  }
  return { probabilities };
};
