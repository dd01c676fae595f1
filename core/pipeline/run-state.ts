import * as z from 'zod';

/**
 * The JSON document the training state machine carries from state to state
 * (statemachines/training.asl.yaml). Each step adds its summary under its own key; bulky things
 * (data, models, evaluations) stay in S3 and travel as pointers.
 */
const s3Pointer = z.strictObject({ bucket: z.string(), key: z.string() });
const s3Prefix = z.strictObject({ bucket: z.string(), prefix: z.string() });

/** What ingest hands over when it starts an execution. */
export const trainingInputSchema = z.strictObject({
  pipeline: z.string().min(1),
  ingestId: z.string().min(1),
  curated: s3Prefix,
  report: s3Pointer,
});
export type TrainingInput = z.output<typeof trainingInputSchema>;

export const featureQuerySchema = z.strictObject({
  split: z.enum(['train', 'validation', 'test']),
  sql: z.string(),
});

export const featurePlanSchema = z.strictObject({
  featureParams: s3Pointer,
  features: s3Prefix,
  queries: z.array(featureQuerySchema),
  /** The parts of CreateTrainingJob that depend on the spec and the stage, ready for the Train state. */
  training: z.record(z.string(), z.unknown()),
});
export type FeaturePlan = z.output<typeof featurePlanSchema>;

export const evaluationSchema = z.strictObject({
  version: z.string(),
  model: s3Pointer,
  evaluation: s3Pointer,
  metrics: z.record(z.string(), z.number().nullable()),
  champion: z
    .strictObject({ version: z.string(), metrics: z.record(z.string(), z.number().nullable()) })
    .nullable(),
  gate: z.strictObject({ passed: z.boolean(), reasons: z.array(z.string()), comparedOn: z.string() }),
  rows: z.number().int(),
});
export type EvaluationSummary = z.output<typeof evaluationSchema>;

export const registrationSchema = z.strictObject({
  modelPackageArn: z.string(),
  status: z.enum(['Approved', 'PendingManualApproval', 'Rejected']),
});
export type RegistrationSummary = z.output<typeof registrationSchema>;

export const deploySummarySchema = z.strictObject({
  canary: z.boolean(),
  canaryWindowSeconds: z.number().int().nonnegative(),
  champion: z.string().nullable(),
  challenger: z.string().nullable(),
  weight: z.number(),
});
export type DeploySummary = z.output<typeof deploySummarySchema>;

export const judgementSchema = z.strictObject({
  promoted: z.boolean(),
  reason: z.string(),
  alarms: z.array(z.string()),
});
export type Judgement = z.output<typeof judgementSchema>;

/** The state as a whole: the input plus whatever steps have run so far. */
export const runStateSchema = trainingInputSchema.extend({
  planned: z.strictObject({ plan: featurePlanSchema }).optional(),
  features: z.array(z.unknown()).optional(),
  training: z
    .strictObject({
      jobName: z.string(),
      modelArtifacts: z.string(),
      finalMetrics: z.array(z.unknown()).optional(),
    })
    .optional(),
  evaluated: z.strictObject({ result: evaluationSchema }).optional(),
  registered: z.strictObject({ result: registrationSchema }).optional(),
  approval: z.unknown().optional(),
  rejection: z.strictObject({ Error: z.string(), Cause: z.string().optional() }).optional(),
  deployed: z.strictObject({ result: deploySummarySchema }).optional(),
  judged: z.strictObject({ result: judgementSchema }).optional(),
  /** Set by a Catch: the ASL error name and its cause (often the JSON of the failed call). */
  error: z.strictObject({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
export type RunState = z.output<typeof runStateSchema>;

export const OUTCOMES = ['deployed', 'rolled-back', 'rejected', 'failed', 'waiting-for-approval'] as const;
export type Outcome = (typeof OUTCOMES)[number];
