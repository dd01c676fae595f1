import type { EvaluationSummary } from '../../../core/pipeline';
import { modelPackageInput, registryClientToken } from '../../../core/pipeline';

const evaluation: EvaluationSummary = {
  version: 'mlpipe-local-penguins-1',
  model: { bucket: 'artifacts', key: 'models/penguins/mlpipe-local-penguins-1/output/model.tar.gz' },
  evaluation: { bucket: 'artifacts', key: 'evaluations/penguins/mlpipe-local-penguins-1.json' },
  metrics: { accuracy: 0.97, f1: 0.96, logloss: 0.1 },
  champion: { version: 'mlpipe-local-penguins-0', metrics: { accuracy: 0.95 } },
  gate: { passed: false, reasons: ['accuracy 0.97 is below the minimum 0.99'], comparedOn: 'accuracy' },
  rows: 52,
};
const context = {
  modelPackageGroup: 'mlpipe-local-penguins',
  inferenceImage: '000000000000.dkr.ecr.us-east-1.amazonaws.com/mlpipe-local-infer:latest',
  execution: 'arn:aws:states:us-east-1:000000000000:execution:mlpipe-local-training:abc',
  ingestId: 'abc',
  trainingJob: 'mlpipe-local-penguins-1',
};

describe('the model registry entry', () => {
  it('records the gate decision, metrics, champion and lineage of the candidate', () => {
    const input = modelPackageInput(evaluation, 'Rejected', context);
    expect(input.ModelApprovalStatus).toBe('Rejected');
    expect(input.ModelPackageDescription).toBe(
      'mlpipe-local-penguins-1: rejected by the gate: accuracy 0.97 is below the minimum 0.99',
    );
    expect(input.InferenceSpecification.Containers[0]?.ModelDataUrl).toBe(
      's3://artifacts/models/penguins/mlpipe-local-penguins-1/output/model.tar.gz',
    );
    expect(input.ModelMetrics.ModelQuality.Statistics.S3Uri).toBe(
      's3://artifacts/evaluations/penguins/mlpipe-local-penguins-1.json',
    );
    expect(input.CustomerMetadataProperties).toMatchObject({
      gate: 'failed',
      champion: 'mlpipe-local-penguins-0',
      'metric:accuracy': '0.97',
      ingest: 'abc',
      testRows: '52',
    });
  });

  it('keeps every metadata value within the 256 characters SageMaker allows', () => {
    const long = { ...evaluation, gate: { ...evaluation.gate, reasons: ['x'.repeat(1000)] } };
    const input = modelPackageInput(long, 'Rejected', context);
    for (const value of Object.values(input.CustomerMetadataProperties))
      expect(value.length).toBeLessThanOrEqual(256);
    expect(input.ModelPackageDescription.length).toBeLessThanOrEqual(1024);
  });

  it('gives a retried registration the same client token, and another execution a different one', () => {
    expect(registryClientToken('e1', 'register')).toBe(registryClientToken('e1', 'register'));
    expect(registryClientToken('e1', 'register')).not.toBe(registryClientToken('e2', 'register'));
    expect(registryClientToken('e1', 'register')).toHaveLength(36);
  });
});
