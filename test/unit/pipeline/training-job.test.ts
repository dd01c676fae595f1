import { join } from 'node:path';
import { metricDefinitions, TrainingPlanError, trainingJobParts } from '../../../core/pipeline';
import { loadSpecs, type PipelineSpec } from '../../../core/spec';

const specs = loadSpecs(join(__dirname, '../../../pipelines'));
const spec = (name: string): PipelineSpec => {
  const s = specs.get(name);
  if (!s) throw new Error(name);
  return s;
};
const config = {
  trainerImages: { gbdt: '123.dkr.ecr.us-east-1.amazonaws.com/mlpipe-gbdt:1' },
  instanceType: 'ml.m5.xlarge',
  spot: false,
  artifactsBucket: 'art',
};
const channels = {
  train: 's3://art/features/penguins/i1/split=train/',
  validation: 's3://art/features/penguins/i1/split=validation/',
};

describe('the training job request', () => {
  it('passes the spec hyperparameters as strings, with the objective and class count of the task', () => {
    const parts = trainingJobParts({
      spec: spec('penguins'),
      config,
      channels,
      ingestId: 'i1',
      classCount: 3,
    });
    expect(parts.hyperParameters).toEqual({
      objective: 'multi:softprob',
      target: 'label',
      pipeline: 'penguins',
      num_class: '3',
      num_round: '200',
      max_depth: '4',
      eta: '0.1',
    });
    expect(parts.algorithmSpecification.TrainingImage).toBe(config.trainerImages.gbdt);
    expect(parts.inputDataConfig.map((c) => [c.ChannelName, c.DataSource.S3DataSource.S3Uri])).toEqual([
      ['train', channels.train],
      ['validation', channels.validation],
    ]);
  });

  it('uses the stage instance type unless the spec names one, and the spec maximum runtime', () => {
    expect(
      trainingJobParts({ spec: spec('penguins'), config, channels, ingestId: 'i1' }).resourceConfig
        .InstanceType,
    ).toBe('ml.m5.xlarge');
    const flights = trainingJobParts({ spec: spec('flights'), config, channels, ingestId: 'i1' });
    expect(flights.resourceConfig.InstanceType).toBe('ml.m5.2xlarge');
    expect(flights.stoppingCondition).toEqual({ MaxRuntimeInSeconds: 7200 });
    expect(flights.enableManagedSpotTraining).toBe(false);
  });

  it('lets a spot job wait at least as long as it may run, and checkpoints per ingest', () => {
    const parts = trainingJobParts({
      spec: spec('cars'),
      config: { ...config, spot: true },
      channels,
      ingestId: 'i9',
    });
    expect(parts.enableManagedSpotTraining).toBe(true);
    expect(parts.stoppingCondition.MaxWaitTimeInSeconds).toBeGreaterThanOrEqual(
      parts.stoppingCondition.MaxRuntimeInSeconds,
    );
    expect(parts.checkpointConfig.S3Uri).toBe('s3://art/checkpoints/cars/i9/');
  });

  it('defines metric regexes that read the lines trainers print', () => {
    const defs = metricDefinitions(spec('flights'));
    const auc = defs.find((d) => d.Name === 'validation:auc');
    expect(new RegExp(auc?.Regex ?? '^$').exec('[12] validation-auc=0.7123 train-auc=0.74')?.[1]).toBe(
      '0.7123',
    );
    expect(defs.map((d) => d.Name)).toContain('train:logloss');
  });

  it('names the trainer and the configured ones when a spec asks for an unknown image', () => {
    const custom = { ...spec('cars'), trainer: { ...spec('cars').trainer, image: 'lightgbm' } };
    expect(() => trainingJobParts({ spec: custom, config, channels, ingestId: 'i1' })).toThrow(
      TrainingPlanError,
    );
    expect(() => trainingJobParts({ spec: custom, config, channels, ingestId: 'i1' })).toThrow(
      'trainer image "lightgbm" is not configured for this stage; known: gbdt',
    );
  });
});
