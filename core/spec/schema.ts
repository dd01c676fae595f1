import * as z from 'zod';

/**
 * The pipeline spec: one YAML file per ML use case (`pipelines/<name>.yml`). Every other part of
 * mlpipe reads it through `PipelineSpec`, so adding a use case needs only a new file.
 * Objects are strict: a misspelt key is an error, not a silently ignored option.
 */

const between = (lo: number, hi: number) => {
  const message = `expected a number between ${lo} and ${hi}`;
  return z.number({ error: message }).min(lo, message).max(hi, message);
};
const positiveInt = (what: string) => {
  const message = `expected a positive whole number of ${what}`;
  return z.number({ error: message }).int(message).positive(message);
};

export const INPUT_FORMATS = ['csv', 'jsonl', 'json', 'parquet'] as const;
export const COLUMN_TYPES = ['string', 'number', 'integer', 'boolean', 'timestamp'] as const;
export const TASKS = ['regression', 'binary', 'multiclass'] as const;
export const EXTRACTS = ['hour', 'dayOfWeek', 'dayOfMonth', 'month', 'year'] as const;
export const IMPUTES = ['median', 'mean', 'mode', 'zero', 'none'] as const;
export const ENCODINGS = ['none', 'category'] as const;

export const METRICS_BY_TASK = {
  regression: ['rmse', 'mae', 'r2'],
  binary: ['accuracy', 'f1', 'logloss', 'auc'],
  multiclass: ['accuracy', 'f1', 'logloss'],
} as const;
export const ALL_METRICS = ['accuracy', 'f1', 'logloss', 'auc', 'rmse', 'mae', 'r2'] as const;
export type MetricName = (typeof ALL_METRICS)[number];
/** What a candidate is compared with the champion on when the spec does not say. */
export const HEADLINE_METRIC = { regression: 'r2', binary: 'auc', multiclass: 'accuracy' } as const;
/** Metrics where smaller is better; the gate and the champion comparison flip for these. */
export const LOWER_IS_BETTER = ['rmse', 'mae', 'logloss'] as const;

/** Durations as people write them in config: `90s`, `10m`, `1h`. */
export const DURATION = /^(\d+)(s|m|h)$/;
export const durationSeconds = (text: string): number => {
  const m = DURATION.exec(text);
  if (!m?.[1] || !m[2]) throw new RangeError(`not a duration: ${text}`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as const)[m[2] as 's' | 'm' | 'h'];
};

/**
 * The schema is built on its first use, not as the module loads: building it took 5–8 ms of every
 * cold start of the inference image, which reads its specs compiled (specs.json) and never parses
 * one.
 */
const buildPipelineSpecSchema = () => {
  const identifier = z
    .string({ error: 'expected a name' })
    .regex(
      /^[a-z][a-z0-9_]*$/,
      'expected lower-case letters, digits and underscores, starting with a letter',
    );

  const pipelineName = z
    .string({ error: 'expected a name' })
    .regex(
      /^[a-z][a-z0-9-]{1,39}$/,
      'expected 2 to 40 lower-case letters, digits and hyphens, starting with a letter (it becomes part of S3 keys and job names)',
    );

  const duration = z
    .string({ error: 'expected a duration such as 90s, 10m or 1h' })
    .regex(DURATION, 'expected a duration such as 90s, 10m or 1h');

  const columnSchema = z.strictObject({
    type: z.enum(COLUMN_TYPES, { error: `expected one of ${COLUMN_TYPES.join(', ')}` }),
    nullable: z.boolean({ error: 'expected true or false' }).default(false),
    min: z.number({ error: 'expected a number' }).optional(),
    max: z.number({ error: 'expected a number' }).optional(),
    values: z
      .array(z.string({ error: 'expected a string' }))
      .min(1, 'expected at least one allowed value')
      .optional(),
    /** A column that may be absent from a file altogether (its values are then null). */
    optional: z.boolean({ error: 'expected true or false' }).default(false),
    description: z.string().optional(),
  });

  const positiveWhen = z.strictObject({
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    eq: z.union([z.string(), z.number(), z.boolean()]).optional(),
  });

  const targetSchema = z.strictObject({
    column: z.string({ error: 'expected a column name' }),
    task: z.enum(TASKS, { error: `expected one of ${TASKS.join(', ')}` }),
    /** Binary tasks over a numeric column: which values are the positive class (flights: delay > 15). */
    positive: positiveWhen.optional(),
  });

  const fractions = {
    train: between(0, 1),
    validation: between(0, 1),
    test: between(0, 1),
  };
  const splitSchema = z.discriminatedUnion(
    'by',
    [
      z.strictObject({ by: z.literal('hash'), ...fractions }),
      z.strictObject({
        by: z.literal('time'),
        column: z.string({ error: 'expected a column name' }),
        ...fractions,
      }),
    ],
    { error: 'expected split.by to be "hash" or "time"' },
  );

  const featureSchema = z.strictObject({
    name: identifier,
    from: z.string({ error: 'expected a column name' }),
    extract: z.enum(EXTRACTS, { error: `expected one of ${EXTRACTS.join(', ')}` }).optional(),
    impute: z.enum(IMPUTES, { error: `expected one of ${IMPUTES.join(', ')}` }).default('none'),
    encode: z.enum(ENCODINGS, { error: `expected one of ${ENCODINGS.join(', ')}` }).default('none'),
    /** Category vocabularies keep the most frequent values; the rest share one "other" slot. */
    maxCategories: positiveInt('categories').default(256),
  });

  const hyperparameterValue = z.union([z.string(), z.number(), z.boolean()], {
    error: 'expected a string, number or boolean',
  });

  const trainerSchema = z.strictObject({
    image: z.string({ error: 'expected a trainer image name or URI' }).default('gbdt'),
    instanceType: z.string().optional(),
    maxRuntime: duration.default('1h'),
    hyperparameters: z.record(z.string(), hyperparameterValue).default({}),
  });

  const threshold = (value: z.ZodNumber) =>
    z.strictObject({ min: value.optional(), max: value.optional() }).optional();
  const rate = () => between(0, 1);
  const nonNegative = () => {
    const message = 'expected a number of 0 or more';
    return z.number({ error: message }).min(0, message);
  };

  const gateSchema = z.strictObject({
    /** Thresholds the candidate must meet; which metrics apply depends on the task (METRICS_BY_TASK). */
    metrics: z
      .strictObject({
        accuracy: threshold(rate()),
        f1: threshold(rate()),
        auc: threshold(rate()),
        logloss: threshold(nonNegative()),
        rmse: threshold(nonNegative()),
        mae: threshold(nonNegative()),
        r2: threshold(
          z.number({ error: 'expected a number of at most 1' }).max(1, 'expected a number of at most 1'),
        ),
      })
      .default({}),
    championMargin: between(0, 1).default(0),
    /** The metric a candidate is compared with the champion on; the task's headline metric by default. */
    compareOn: z.enum(ALL_METRICS, { error: `expected one of ${ALL_METRICS.join(', ')}` }).optional(),
  });

  const deploymentSchema = z.strictObject({
    /** Overrides of the stage's defaults (serverless.yml `stages.<stage>.params`). */
    canaryWeight: between(0, 1).optional(),
    canaryWindow: duration.optional(),
  });

  const inputSchema = z.strictObject({
    formats: z
      .array(z.enum(INPUT_FORMATS, { error: `expected one of ${INPUT_FORMATS.join(', ')}` }))
      .min(1, 'expected at least one format')
      .default([...INPUT_FORMATS]),
    delimiter: z.string().length(1, 'expected a single character').default(','),
    maxRejectRate: between(0, 1).default(0.05),
    unknownColumns: z.enum(['keep', 'drop'], { error: 'expected keep or drop' }).default('drop'),
    /**
     * Texts that mean a value is missing in a CSV file, as the empty text does: R and pandas write
     * NA, databases NULL or \N. Matched exactly, after trimming white space. (JSON and Parquet
     * have null of their own.)
     */
    nullValues: z
      .array(z.string({ error: 'expected text' }).min(1, 'expected text that is not empty'), {
        error: 'expected a list of texts',
      })
      .default([]),
  });

  return z
    .strictObject({
      name: pipelineName,
      description: z.string().optional(),
      input: inputSchema.default(inputSchema.parse({})),
      columns: z
        .record(z.string(), columnSchema)
        .refine((c) => Object.keys(c).length > 0, 'expected at least one column'),
      id: z.string({ error: 'expected a column name' }).optional(),
      target: targetSchema,
      split: splitSchema,
      features: z.array(featureSchema).min(1, 'expected at least one feature'),
      trainer: trainerSchema.default(trainerSchema.parse({})),
      gate: gateSchema.default(gateSchema.parse({})),
      deployment: deploymentSchema.default({}),
    })
    .superRefine((spec, ctx) => {
      const columns = spec.columns;
      const needColumn = (name: string, path: (string | number)[]) => {
        if (!(name in columns)) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `no column named "${name}" in columns`,
            input: name,
          });
          return undefined;
        }
        return columns[name];
      };
      for (const [name, col] of Object.entries(columns)) {
        if (col.min !== undefined && col.max !== undefined && col.min > col.max) {
          ctx.addIssue({
            code: 'custom',
            path: ['columns', name, 'min'],
            message: `min ${col.min} is above max ${col.max}`,
          });
        }
        if (col.values && col.type !== 'string') {
          ctx.addIssue({
            code: 'custom',
            path: ['columns', name, 'values'],
            message: 'allowed values apply to string columns only',
          });
        }
        if (
          (col.min !== undefined || col.max !== undefined) &&
          col.type !== 'number' &&
          col.type !== 'integer'
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['columns', name],
            message: 'min and max apply to number and integer columns only',
          });
        }
      }
      if (spec.id !== undefined) needColumn(spec.id, ['id']);

      const target = needColumn(spec.target.column, ['target', 'column']);
      if (target) {
        if (spec.target.task === 'regression' && target.type !== 'number' && target.type !== 'integer') {
          ctx.addIssue({
            code: 'custom',
            path: ['target', 'column'],
            message: 'a regression target must be a number or integer column',
          });
        }
        if (spec.target.positive && spec.target.task !== 'binary') {
          ctx.addIssue({
            code: 'custom',
            path: ['target', 'positive'],
            message: 'positive applies to binary tasks only',
          });
        }
        if (
          spec.target.task === 'binary' &&
          !spec.target.positive &&
          target.type !== 'boolean' &&
          target.values?.length !== 2
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['target'],
            message:
              'a binary target needs a boolean column, a column with exactly two allowed values, or a positive rule',
          });
        }
      }

      const sum = spec.split.train + spec.split.validation + spec.split.test;
      if (Math.abs(sum - 1) > 1e-9) {
        ctx.addIssue({
          code: 'custom',
          path: ['split'],
          // Rounded: 0.7 + 0.2 + 0.2 is 1.0999999999999999 in floating point.
          message: `train + validation + test must be 1, got ${Number(sum.toFixed(6))}`,
        });
      }
      if (spec.split.train <= 0)
        ctx.addIssue({
          code: 'custom',
          path: ['split', 'train'],
          message: 'the train fraction must be above 0',
        });
      if (spec.split.by === 'time') {
        const col = needColumn(spec.split.column, ['split', 'column']);
        if (col && col.type !== 'timestamp' && col.type !== 'number' && col.type !== 'integer') {
          ctx.addIssue({
            code: 'custom',
            path: ['split', 'column'],
            message: 'a time split needs a timestamp or numeric column',
          });
        }
      }

      const seen = new Set<string>();
      spec.features.forEach((f, i) => {
        if (seen.has(f.name))
          ctx.addIssue({
            code: 'custom',
            path: ['features', i, 'name'],
            message: `duplicate feature name "${f.name}"`,
          });
        seen.add(f.name);
        if (f.from === spec.target.column) {
          ctx.addIssue({
            code: 'custom',
            path: ['features', i, 'from'],
            message: 'a feature cannot be computed from the target (label leakage)',
          });
        }
        const col = needColumn(f.from, ['features', i, 'from']);
        if (!col) return;
        if (f.extract && col.type !== 'timestamp') {
          ctx.addIssue({
            code: 'custom',
            path: ['features', i, 'extract'],
            message: `extract needs a timestamp column, "${f.from}" is ${col.type}`,
          });
        }
        const categorical = (col.type === 'string' || col.type === 'boolean') && !f.extract;
        if (categorical && f.encode !== 'category') {
          ctx.addIssue({
            code: 'custom',
            path: ['features', i, 'encode'],
            message: `"${f.from}" is a ${col.type} column: set encode: category`,
          });
        }
        if (categorical && (f.impute === 'mean' || f.impute === 'median')) {
          ctx.addIssue({
            code: 'custom',
            path: ['features', i, 'impute'],
            message: `${f.impute} needs a numeric feature; use mode or none`,
          });
        }
      });

      const allowed: readonly string[] = METRICS_BY_TASK[spec.target.task];
      if (spec.gate.compareOn && !allowed.includes(spec.gate.compareOn)) {
        ctx.addIssue({
          code: 'custom',
          path: ['gate', 'compareOn'],
          message: `not a metric of a ${spec.target.task} task; expected one of ${allowed.join(', ')}`,
        });
      }
      for (const [metric, bounds] of Object.entries(spec.gate.metrics)) {
        if (bounds !== undefined && !allowed.includes(metric)) {
          ctx.addIssue({
            code: 'custom',
            path: ['gate', 'metrics', metric],
            message: `not a metric of a ${spec.target.task} task; expected one of ${allowed.join(', ')}`,
          });
        }
      }
    });
};

let built: ReturnType<typeof buildPipelineSpecSchema> | undefined;
export const pipelineSpecSchema = () => {
  built ??= buildPipelineSpecSchema();
  return built;
};

export type PipelineSpec = z.output<ReturnType<typeof buildPipelineSpecSchema>>;
export type ColumnSpec = PipelineSpec['columns'][string];
export type FeatureSpec = PipelineSpec['features'][number];
export type Task = (typeof TASKS)[number];
export type ColumnType = (typeof COLUMN_TYPES)[number];
export type InputFormat = (typeof INPUT_FORMATS)[number];
