import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Metrics, metricsFor } from '../../core/metrics';
import { copyEncodings, writeBundle } from '../../core/model';
import { METRICS_BY_TASK } from '../../core/spec/schema';
import {
  type Booster,
  CHECKPOINT_FORMAT,
  type Checkpoint,
  predict,
  predictionsOfMargins,
  train,
} from './booster';
import { readChannel } from './channels';
import { type Encoder, fitEncoder, matrixOf, type Prepared, prepare } from './dataset';
import {
  HyperparameterError,
  type Hyperparameters,
  type Objective,
  parseHyperparameters,
} from './hyperparameters';
import { toOnnx } from './onnx';

/**
 * The SageMaker training contract, rooted at /opt/ml in the container and at any folder locally
 * (`mlpipe train --root DIR`, which the local SageMaker runs):
 *   input/config/hyperparameters.json   string values, as SageMaker passes them
 *   input/data/train/                   required; input/data/validation/ optional (early stopping)
 *   input/data/config/features.json     optional: the pipeline's fitted feature transform
 *   model/                              model.onnx + manifest.json
 *   output/failure                      why the job failed (non-zero exit)
 *   checkpoints/                        spot resumption (SageMaker syncs it with CheckpointConfig)
 * https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
 */
export interface TrainingRunOptions {
  readonly log?: (line: string) => void;
  readonly checkpointDir?: string;
  /** The model version (SageMaker: the training job name). */
  readonly version?: string;
  readonly image?: string;
}

const TASK_OF: Record<Objective, 'regression' | 'binary' | 'multiclass'> = {
  'reg:squarederror': 'regression',
  'binary:logistic': 'binary',
  'multi:softprob': 'multiclass',
};

/** The spec's metrics for a channel, from the model as it will serve. */
export const channelMetrics = (
  booster: Booster,
  data: Prepared,
  classCount: number,
  /** The channel's margins when training already has them (Booster.trainMargins). */
  margins?: Float64Array,
): Metrics => {
  const task = TASK_OF[booster.objective];
  const out = margins
    ? predictionsOfMargins(booster, margins, data.rows)
    : predict(booster, matrixOf(data), data.rows);
  if (task === 'regression') return metricsFor(task, { actual: data.label, predicted: out.values ?? [] });
  const probabilities = out.probabilities ?? new Float64Array();
  const scores =
    task === 'binary' ? data.label.map((_, i) => probabilities[i * 2 + 1] as number) : probabilities;
  return metricsFor(task, { actual: data.label, probabilities: scores, classCount });
};

interface FeaturesFile {
  readonly classes?: readonly string[];
  readonly features?: readonly { readonly name: string; readonly kind?: string }[];
}

const readFeatures = (root: string): { raw: unknown; parsed: FeaturesFile } | undefined => {
  const file = join(root, 'input/data/config/features.json');
  if (!existsSync(file)) return undefined;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  return { raw, parsed: raw as FeaturesFile };
};

const loadCheckpoint = (dir: string, log: (line: string) => void): Checkpoint | undefined => {
  const file = join(dir, 'checkpoint.json');
  if (!existsSync(file)) return undefined;
  const checkpoint = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
  if (checkpoint.format !== CHECKPOINT_FORMAT) return undefined;
  log(`resuming from the checkpoint of round ${checkpoint.round + 1}`);
  return checkpoint;
};

const saveCheckpoint = (dir: string, checkpoint: Checkpoint): void => {
  mkdirSync(dir, { recursive: true });
  // Written whole, then renamed: a job stopped mid-write never leaves a torn checkpoint behind.
  writeFileSync(join(dir, 'checkpoint.json.tmp'), JSON.stringify(checkpoint));
  renameSync(join(dir, 'checkpoint.json.tmp'), join(dir, 'checkpoint.json'));
};

export interface TrainingResult {
  readonly booster: Booster;
  readonly encoder: Encoder;
  readonly metrics: Record<string, number>;
}

export const trainFromFolder = async (
  root: string,
  options: TrainingRunOptions = {},
): Promise<TrainingResult> => {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const rawParams = JSON.parse(
    readFileSync(join(root, 'input/config/hyperparameters.json'), 'utf8'),
  ) as Record<string, unknown>;
  const params: Hyperparameters = parseHyperparameters(rawParams);
  const features = readFeatures(root);
  const trainTable = await readChannel(join(root, 'input/data/train'), 'train');
  const validationDir = join(root, 'input/data/validation');
  const validationTable = existsSync(validationDir)
    ? await readChannel(validationDir, 'validation')
    : undefined;
  // Labels of engineered feature files are class indexes into the plan's classes (see core/features).
  const labelsAreIndexes = features?.parsed.classes !== undefined && params.objective === 'multi:softprob';
  // The feature plan's categories stay categories even when their names look like numbers.
  const categorical = features?.parsed.features?.filter((f) => f.kind === 'category').map((f) => f.name);
  const encoder = fitEncoder(trainTable, params.target, params.objective, {
    drop: params.drop,
    ...(categorical && categorical.length > 0 ? { categorical } : {}),
    ...(labelsAreIndexes && features?.parsed.classes ? { classes: features.parsed.classes } : {}),
  });
  if (params.objective === 'multi:softprob' && (encoder.classes?.length ?? 0) > params.num_class) {
    throw new HyperparameterError(
      `hyperparameter num_class is ${params.num_class}, but the train channel has ${encoder.classes?.length} classes: ${encoder.classes?.join(', ')}`,
    );
  }
  const trainData = prepare(encoder, trainTable, labelsAreIndexes);
  const validationData = validationTable
    ? prepare(encoder, validationTable, labelsAreIndexes, 'validation')
    : undefined;
  for (const [channel, data] of [['train', trainData] as const, ['validation', validationData] as const]) {
    for (const [why, count] of Object.entries(data?.skipped ?? {}))
      log(`${channel}: ${count} row(s) left out: ${why}`);
  }
  log(
    `training ${params.objective} on ${trainData.rows} rows × ${encoder.encodings.length} inputs` +
      (validationData ? `, validating on ${validationData.rows}` : ''),
  );
  const checkpointDir = options.checkpointDir ?? join(root, 'checkpoints');
  const resumeFrom = loadCheckpoint(checkpointDir, log);
  const started = Date.now();
  const run = (resume: Checkpoint | undefined) =>
    train({
      params,
      train: trainData,
      ...(validationData ? { validation: validationData } : {}),
      ...(resume ? { resumeFrom: resume } : {}),
      onCheckpoint: (c) => saveCheckpoint(checkpointDir, c),
      onRound: (round, trainLoss, validLoss) => {
        if ((round + 1) % 10 === 0 || round === 0)
          log(
            `[${round + 1}] train-loss=${trainLoss.toFixed(6)}${validLoss === undefined ? '' : ` validation-loss=${validLoss.toFixed(6)}`}`,
          );
      },
    });
  let booster: Booster;
  try {
    booster = run(resumeFrom);
  } catch (error) {
    if (!resumeFrom || (error as Error).name !== 'TrainingError') throw error;
    log(`ignoring the checkpoint: ${(error as Error).message}`);
    booster = run(undefined);
  }
  log(
    `trained ${booster.trees.length} trees (best round ${booster.bestRound + 1}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const classCount = encoder.classes?.length ?? 1;
  const task = TASK_OF[params.objective];
  const metrics: Record<string, number> = {};
  for (const [channel, data, margins] of [
    ['train', trainData, booster.trainMargins] as const,
    ['validation', validationData, booster.validationMargins] as const,
  ]) {
    if (!data || data.rows === 0) continue;
    const m = channelMetrics(booster, data, classCount, margins);
    for (const name of METRICS_BY_TASK[task]) {
      const value = m[name];
      if (value === undefined) continue;
      metrics[`${channel}:${name}`] = value;
      // The line MetricDefinitions read: https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html
      log(`${channel}-${name}=${Number.isFinite(value) ? value.toFixed(6) : 'nan'}`);
    }
  }
  const onnx = toOnnx(booster, encoder.classes, 'mlpipe-gbdt');
  const modelDir = join(root, 'model');
  mkdirSync(modelDir, { recursive: true });
  const stringParams = Object.fromEntries(Object.entries(rawParams).map(([k, v]) => [k, String(v)]));
  writeBundle(
    modelDir,
    {
      format: 'mlpipe-model/1',
      pipeline: params.pipeline ?? null,
      version: options.version ?? process.env.TRAINING_JOB_NAME ?? `gbdt-${new Date().toISOString()}`,
      task,
      inputs: encoder.encodings.map((e) => e.column),
      encodings: copyEncodings(encoder.encodings),
      ...(features ? { features: features.raw } : {}),
      ...(encoder.classes ? { classes: [...encoder.classes] } : {}),
      metrics,
      lineage: {
        trainer: {
          image: options.image ?? process.env.MLPIPE_TRAINER_IMAGE ?? 'mlpipe/gbdt',
          hyperparameters: stringParams,
        },
        data: {
          train: { rows: trainData.rows, files: [...trainTable.files] },
          ...(validationData && validationTable
            ? { validation: { rows: validationData.rows, files: [...validationTable.files] } }
            : {}),
        },
        createdAt: new Date().toISOString(),
        bestRound: booster.bestRound,
      },
    },
    onnx,
    task === 'regression' ? ['variable'] : ['label', 'probabilities'],
  );
  log(`model written to ${modelDir}`);
  return { booster, encoder, metrics };
};

/** The entry point: exit code 0, or 1 with the reason in output/failure. */
export const runTraining = async (root: string, options: TrainingRunOptions = {}): Promise<number> => {
  try {
    await trainFromFolder(root, options);
    return 0;
  } catch (error) {
    const reason = `${(error as Error).name}: ${(error as Error).message}`;
    mkdirSync(join(root, 'output'), { recursive: true });
    writeFileSync(join(root, 'output/failure'), reason);
    (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(`training failed: ${reason}`);
    return 1;
  }
};
