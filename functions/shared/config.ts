import { tmpdir } from 'node:os';

/**
 * Configuration of the functions: every setting comes from the function's environment (set by
 * serverless.yml from the stage's params), is read once, here, and a missing or malformed one fails
 * the cold start loudly with its name, rather than a request later with an undefined.
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

const read = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(
      `environment variable ${name} is not set (see this function's function.yml)`,
    );
  }
  return value.trim();
};

const number = (name: string, fallback?: number): number => {
  const text = process.env[name];
  if ((text === undefined || text === '') && fallback !== undefined) return fallback;
  const n = Number(read(name));
  if (!Number.isFinite(n))
    throw new ConfigurationError(`environment variable ${name} is not a number: ${text}`);
  return n;
};

/**
 * The vCPUs a Lambda function of `memoryMb` has, to the nearest whole one (at least one): Lambda
 * gives one vCPU-second of credits a second at 1,769 MB, in proportion to memory, though it shows
 * the function two cores up to 3,008 MB. https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
 */
export const lambdaVcpus = (memoryMb: number): number => Math.max(1, Math.round(memoryMb / 1769));

const SETTINGS = {
  stage: () => read('MLPIPE_STAGE'),
  rawBucket: () => read('RAW_BUCKET'),
  curatedBucket: () => read('CURATED_BUCKET'),
  artifactsBucket: () => read('ARTIFACTS_BUCKET'),
  trainingStateMachineArn: () => read('TRAINING_STATE_MACHINE_ARN'),
  /** Where the pipeline specs are: packaged with the function, or the repository's folder locally. */
  pipelinesDir: () =>
    process.env.PIPELINES_DIR ?? `${process.env.LAMBDA_TASK_ROOT ?? process.cwd()}/pipelines`,
  /** Lambda's /tmp (up to 10 GB): https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html */
  scratchDir: () => process.env.MLPIPE_SCRATCH_DIR ?? tmpdir(),
  maxFileBytes: () => number('INGEST_MAX_FILE_BYTES', 8 * 2 ** 30),
  maxLineBytes: () => number('INGEST_MAX_LINE_BYTES', 2 ** 20),
  glueDatabase: () => read('GLUE_DATABASE'),
  athenaWorkgroup: () => read('ATHENA_WORKGROUP'),
  sagemakerRoleArn: () => read('SAGEMAKER_ROLE_ARN'),
  trainerImageGbdt: () => read('TRAINER_IMAGE_GBDT'),
  trainingInstanceType: () => read('TRAINING_INSTANCE_TYPE'),
  trainingSpot: () => read('TRAINING_SPOT') === 'true',
  approvalRequired: () => read('APPROVAL_REQUIRED') === 'true',
  canaryWeight: () => number('CANARY_WEIGHT'),
  canaryWindow: () => read('CANARY_WINDOW'),
  canaryWindowMax: () => read('CANARY_WINDOW_MAX'),
  modelPackageGroupPrefix: () => read('MODEL_PACKAGE_GROUP_PREFIX'),
  inferenceImage: () => read('INFERENCE_IMAGE'),
  notificationsTopicArn: () => read('NOTIFICATIONS_TOPIC_ARN'),
  eventBusName: () => process.env.EVENT_BUS_NAME ?? 'default',
  alarmPrefix: () => read('ALARM_PREFIX'),
  predictionsStream: () => read('PREDICTIONS_STREAM'),
  failuresQueueUrl: () => read('FAILURES_QUEUE_URL'),
  /** How stale a deployment record may be: a promotion is served within this. */
  modelRecordTtlMs: () => number('MODEL_RECORD_TTL_MS', 5_000),
  /** Memory for loaded models; half the function's memory unless set. */
  modelMemoryBudgetBytes: () =>
    number('MODEL_MEMORY_BUDGET_MB', Math.floor(number('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 1024) / 2)) *
    2 ** 20,
  /**
   * onnxruntime's intra-op threads per model: the function's vCPUs unless set, 0 (its default, a
   * thread per core it sees) outside Lambda. At 2,048 MB the function sees two cores but has 1.16
   * vCPU: pinned to one core, a flights batch of 1,000 took 35-38 ms with one thread and 47-59 ms
   * with two (bench/README.md).
   */
  scorerThreads: () => {
    const memoryMb = number('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 0);
    const threads = number('MLPIPE_SCORER_THREADS', memoryMb > 0 ? lambdaVcpus(memoryMb) : 0);
    if (!Number.isInteger(threads) || threads < 0)
      throw new ConfigurationError(
        `environment variable MLPIPE_SCORER_THREADS is not a whole number ≥ 0: ${threads}`,
      );
    return threads;
  },
  /** Largest HTTPS request body taken (function URLs accept up to 6 MB). */
  httpMaxBodyBytes: () => number('HTTP_MAX_BODY_BYTES', 2 ** 20),
  httpMaxRecords: () => number('HTTP_MAX_RECORDS', 1_000),
} as const;

export type Setting = keyof typeof SETTINGS;
export type Config<K extends Setting> = { readonly [P in K]: ReturnType<(typeof SETTINGS)[P]> };

/** The settings a function needs, read now (call it at module scope, once per cold start). */
export const loadConfig = <K extends Setting>(...keys: K[]): Config<K> => {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    try {
      out[key] = SETTINGS[key]();
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('; '));
  return out as Config<K>;
};
