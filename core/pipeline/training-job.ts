import { LABEL_COLUMN } from '../features/fitted';
import { durationSeconds, METRICS_BY_TASK, type PipelineSpec } from '../spec/schema';

/**
 * The spec- and stage-dependent parts of SageMaker CreateTrainingJob, built by the features step
 * and passed verbatim to the Train state (whose Parameters must have static keys).
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html
 */
export interface TrainingStageConfig {
  /** Trainer name in specs (`gbdt`) → image URI; a spec may also name a full URI itself. */
  readonly trainerImages: Readonly<Record<string, string>>;
  readonly instanceType: string;
  readonly spot: boolean;
  readonly artifactsBucket: string;
}

export interface TrainingJobParts {
  readonly algorithmSpecification: {
    TrainingImage: string;
    TrainingInputMode: 'File';
    MetricDefinitions: { Name: string; Regex: string }[];
  };
  readonly hyperParameters: Record<string, string>;
  readonly inputDataConfig: {
    ChannelName: string;
    ContentType: string;
    DataSource: {
      S3DataSource: { S3DataType: 'S3Prefix'; S3Uri: string; S3DataDistributionType: 'FullyReplicated' };
    };
  }[];
  readonly outputDataConfig: { S3OutputPath: string };
  readonly resourceConfig: { InstanceType: string; InstanceCount: 1; VolumeSizeInGB: number };
  readonly stoppingCondition: { MaxRuntimeInSeconds: number; MaxWaitTimeInSeconds?: number };
  readonly enableManagedSpotTraining: boolean;
  readonly checkpointConfig: { S3Uri: string; LocalPath: string };
}

export class TrainingPlanError extends Error {
  override name = 'TrainingPlanError';
}

const OBJECTIVE = {
  regression: 'reg:squarederror',
  binary: 'binary:logistic',
  multiclass: 'multi:softprob',
} as const;
const NUMBER = '([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|NaN)';

/**
 * What a pipeline's training job tells its trainer: the task's objective, the label column, the
 * pipeline, the class count of a multiclass task, and the spec's own hyperparameters, which win.
 * SageMaker passes every value as a string.
 */
export const trainerHyperparameters = (spec: PipelineSpec, classCount?: number): Record<string, string> => {
  const hyperParameters: Record<string, string> = {
    objective: OBJECTIVE[spec.target.task],
    target: LABEL_COLUMN,
    pipeline: spec.name,
  };
  if (spec.target.task === 'multiclass' && classCount !== undefined)
    hyperParameters.num_class = String(classCount);
  for (const [name, value] of Object.entries(spec.trainer.hyperparameters))
    hyperParameters[name] = String(value);
  return hyperParameters;
};

/** The metric lines trainers print (`validation-auc=0.71`), as MetricDefinitions regexes. */
export const metricDefinitions = (spec: PipelineSpec): { Name: string; Regex: string }[] =>
  ['train', 'validation'].flatMap((channel) =>
    METRICS_BY_TASK[spec.target.task].map((metric) => ({
      Name: `${channel}:${metric}`,
      Regex: `${channel}-${metric}=${NUMBER}`,
    })),
  );

export const trainerImage = (spec: PipelineSpec, config: TrainingStageConfig): string => {
  const image = spec.trainer.image;
  if (image.includes('/') || image.includes(':')) return image;
  const uri = config.trainerImages[image];
  if (!uri) {
    throw new TrainingPlanError(
      `pipeline ${spec.name}: trainer image "${image}" is not configured for this stage; known: ${Object.keys(config.trainerImages).join(', ') || '(none)'}`,
    );
  }
  return uri;
};

export interface TrainingJobInput {
  readonly spec: PipelineSpec;
  readonly config: TrainingStageConfig;
  /** s3://… prefixes of the feature Parquet per split. */
  readonly channels: { readonly train: string; readonly validation: string; readonly config?: string };
  readonly ingestId: string;
  /** Class labels in output order, for classifiers; the trainer needs their number up front. */
  readonly classCount?: number;
}

export const trainingJobParts = ({
  spec,
  config,
  channels,
  ingestId,
  classCount,
}: TrainingJobInput): TrainingJobParts => {
  const hyperParameters = trainerHyperparameters(spec, classCount);
  const maxRuntime = durationSeconds(spec.trainer.maxRuntime);
  const channel = (name: string, uri: string, contentType = 'application/x-parquet') => ({
    ChannelName: name,
    ContentType: contentType,
    DataSource: {
      S3DataSource: {
        S3DataType: 'S3Prefix' as const,
        S3Uri: uri,
        S3DataDistributionType: 'FullyReplicated' as const,
      },
    },
  });
  return {
    algorithmSpecification: {
      TrainingImage: trainerImage(spec, config),
      TrainingInputMode: 'File',
      MetricDefinitions: metricDefinitions(spec),
    },
    hyperParameters,
    inputDataConfig: [
      channel('train', channels.train),
      channel('validation', channels.validation),
      // The fitted feature transform, which the trainer stores in the model bundle for serving.
      ...(channels.config ? [channel('config', channels.config, 'application/json')] : []),
    ],
    outputDataConfig: { S3OutputPath: `s3://${config.artifactsBucket}/models/${spec.name}/` },
    resourceConfig: {
      InstanceType: spec.trainer.instanceType ?? config.instanceType,
      InstanceCount: 1,
      VolumeSizeInGB: 30,
    },
    // Spot jobs may wait for capacity; SageMaker requires MaxWaitTimeInSeconds >= MaxRuntimeInSeconds.
    stoppingCondition: config.spot
      ? { MaxRuntimeInSeconds: maxRuntime, MaxWaitTimeInSeconds: maxRuntime * 2 }
      : { MaxRuntimeInSeconds: maxRuntime },
    enableManagedSpotTraining: config.spot,
    checkpointConfig: {
      S3Uri: `s3://${config.artifactsBucket}/checkpoints/${spec.name}/${ingestId}/`,
      LocalPath: '/opt/ml/checkpoints',
    },
  };
};
