import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { type FeaturePlan, trainingInputSchema } from '../../core/pipeline';
import { loadConfig } from '../shared/config';
import { parseEvent } from '../shared/event';
import { planFeatures } from './plan';

const settings = loadConfig(
  'artifactsBucket',
  'glueDatabase',
  'athenaWorkgroup',
  'pipelinesDir',
  'trainerImageGbdt',
  'trainingInstanceType',
  'trainingSpot',
);
const s3 = new S3Client({});
const athena = new AthenaClient({});
const logger = new Logger({ serviceName: 'mlpipe-plan-features' });

export const handler = async (event: unknown): Promise<FeaturePlan> => {
  const input = parseEvent(trainingInputSchema.passthrough(), event, 'the training state');
  logger.appendKeys({ pipeline: input.pipeline, ingestId: input.ingestId });
  const plan = await planFeatures(input, { s3, athena, settings, runId: randomUUID() });
  logger.info('features planned', { features: plan.features, queries: plan.queries.length });
  return plan;
};
