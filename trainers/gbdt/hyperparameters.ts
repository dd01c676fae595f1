/**
 * Hyperparameters, named as the SageMaker XGBoost algorithm names them where they mean the same, and
 * passed as strings as SageMaker passes them (input/config/hyperparameters.json).
 * https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost_hyperparameters.html
 */
export const OBJECTIVES = ['reg:squarederror', 'binary:logistic', 'multi:softprob'] as const;
export type Objective = (typeof OBJECTIVES)[number];

export interface Hyperparameters {
  readonly objective: Objective;
  readonly num_class: number;
  readonly num_round: number;
  readonly eta: number;
  readonly max_depth: number;
  readonly min_child_weight: number;
  readonly lambda: number;
  readonly gamma: number;
  readonly subsample: number;
  readonly colsample_bytree: number;
  readonly max_bin: number;
  /**
   * Categories one set split may send left (XGBoost's and LightGBM's name). Larger sets can fit
   * better but onnxruntime tests a set's members one by one, so they serve slower (trees.ts).
   */
  readonly max_cat_threshold: number;
  readonly early_stopping_rounds: number;
  readonly seed: number;
  /** The label column of the channels. */
  readonly target: string;
  /** Columns to leave out of the inputs (comma-separated), e.g. an id or a free-text name. */
  readonly drop: readonly string[];
  /** Write a checkpoint every this many rounds (spot training resumes from the last one). */
  readonly checkpoint_rounds: number;
  /** The pipeline the model belongs to (lineage only). */
  readonly pipeline?: string;
}

export class HyperparameterError extends Error {
  override name = 'HyperparameterError';
}

interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
  /** Whether the bounds themselves are allowed. */
  readonly open?: 'min' | 'max' | 'both';
  readonly fallback: number;
}

const NUMBERS: Record<string, NumberRule> = {
  num_class: { min: 2, max: 10_000, integer: true, fallback: 2 },
  num_round: { min: 1, max: 100_000, integer: true, fallback: 100 },
  eta: { min: 0, max: 1, open: 'min', fallback: 0.3 },
  max_depth: { min: 1, max: 16, integer: true, fallback: 6 },
  min_child_weight: { min: 0, max: Number.MAX_VALUE, fallback: 1 },
  lambda: { min: 0, max: Number.MAX_VALUE, fallback: 1 },
  gamma: { min: 0, max: Number.MAX_VALUE, fallback: 0 },
  subsample: { min: 0, max: 1, open: 'min', fallback: 1 },
  colsample_bytree: { min: 0, max: 1, open: 'min', fallback: 1 },
  max_bin: { min: 2, max: 255, integer: true, fallback: 255 },
  max_cat_threshold: { min: 1, max: 254, integer: true, fallback: 32 },
  early_stopping_rounds: { min: 0, max: 100_000, integer: true, fallback: 0 },
  seed: { min: 0, max: 2 ** 31 - 1, integer: true, fallback: 0 },
  checkpoint_rounds: { min: 1, max: 100_000, integer: true, fallback: 10 },
};

const describeRange = (rule: NumberRule): string => {
  const low = rule.open === 'min' || rule.open === 'both' ? `(${rule.min}` : `[${rule.min}`;
  const high =
    rule.max === Number.MAX_VALUE
      ? '∞)'
      : rule.open === 'max' || rule.open === 'both'
        ? `${rule.max})`
        : `${rule.max}]`;
  return `${rule.integer ? 'a whole number in ' : 'a number in '}${low}, ${high}`;
};

const parseNumber = (name: string, raw: string, rule: NumberRule): number => {
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  const tooLow = rule.open === 'min' || rule.open === 'both' ? value <= rule.min : value < rule.min;
  const tooHigh = rule.open === 'max' || rule.open === 'both' ? value >= rule.max : value > rule.max;
  if (!Number.isFinite(value) || tooLow || tooHigh || (rule.integer && !Number.isInteger(value))) {
    throw new HyperparameterError(`hyperparameter ${name}: expected ${describeRange(rule)}, got "${raw}"`);
  }
  return value;
};

const KNOWN = new Set([...Object.keys(NUMBERS), 'objective', 'target', 'drop', 'pipeline']);

/** Parses SageMaker's string map; every problem names the hyperparameter and what it allows. */
export const parseHyperparameters = (raw: Readonly<Record<string, unknown>>): Hyperparameters => {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!KNOWN.has(name)) {
      throw new HyperparameterError(
        `hyperparameter ${name}: unknown; known: ${[...KNOWN].sort().join(', ')}`,
      );
    }
    strings[name] = String(value);
  }
  const objective = (strings.objective ?? 'reg:squarederror') as Objective;
  if (!OBJECTIVES.includes(objective)) {
    throw new HyperparameterError(
      `hyperparameter objective: expected one of ${OBJECTIVES.join(', ')}, got "${strings.objective}"`,
    );
  }
  const numbers: Record<string, number> = {};
  for (const [name, rule] of Object.entries(NUMBERS)) {
    const value = strings[name];
    numbers[name] = value === undefined ? rule.fallback : parseNumber(name, value, rule);
  }
  if (objective === 'multi:softprob' && strings.num_class === undefined) {
    throw new HyperparameterError('hyperparameter num_class: required with objective multi:softprob');
  }
  return {
    objective,
    num_class:
      objective === 'binary:logistic'
        ? 2
        : objective === 'reg:squarederror'
          ? 1
          : (numbers.num_class as number),
    num_round: numbers.num_round as number,
    eta: numbers.eta as number,
    max_depth: numbers.max_depth as number,
    min_child_weight: numbers.min_child_weight as number,
    lambda: numbers.lambda as number,
    gamma: numbers.gamma as number,
    subsample: numbers.subsample as number,
    colsample_bytree: numbers.colsample_bytree as number,
    max_bin: numbers.max_bin as number,
    max_cat_threshold: numbers.max_cat_threshold as number,
    early_stopping_rounds: numbers.early_stopping_rounds as number,
    seed: numbers.seed as number,
    checkpoint_rounds: numbers.checkpoint_rounds as number,
    target: strings.target ?? 'label',
    ...(strings.pipeline ? { pipeline: strings.pipeline } : {}),
    drop: (strings.drop ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
};
