import * as z from 'zod';

/**
 * manifest.json of a model bundle (model.tar.gz = model.onnx + manifest.json, as SageMaker writes
 * /opt/ml/model). Serving reads the inputs and their encodings from here, so a model always gets
 * its inputs exactly as it was trained with them.
 */
const encodingSchema = z.discriminatedUnion('kind', [
  z.strictObject({ column: z.string(), kind: z.literal('numeric') }),
  z.strictObject({ column: z.string(), kind: z.literal('category'), categories: z.array(z.string()) }),
]);

export const manifestSchema = z.strictObject({
  format: z.literal('mlpipe-model/1'),
  pipeline: z.string().nullable(),
  version: z.string(),
  task: z.enum(['regression', 'binary', 'multiclass']),
  /** Input columns in the order of the ONNX input's second dimension. */
  inputs: z.array(z.string()).min(1),
  encodings: z.array(encodingSchema),
  /** The fitted feature transform of the pipeline, when the inputs are engineered features. */
  features: z.unknown().optional(),
  classes: z.array(z.string()).optional(),
  metrics: z.record(z.string(), z.number().nullable()),
  lineage: z.strictObject({
    trainer: z.strictObject({ image: z.string(), hyperparameters: z.record(z.string(), z.string()) }),
    data: z.record(z.string(), z.strictObject({ rows: z.number().int(), files: z.array(z.string()) })),
    createdAt: z.string(),
    bestRound: z.number().int().optional(),
  }),
  onnx: z.strictObject({
    file: z.literal('model.onnx'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    inputName: z.string(),
    outputs: z.array(z.string()),
  }),
});
export type ModelManifest = z.output<typeof manifestSchema>;
