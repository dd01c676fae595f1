import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import type { DeploySummary, Judgement } from '../../core/pipeline';
import { loadConfig } from '../shared/config';
import { parseEvent } from '../shared/event';
import { deployEventSchema, deployModel, judgeDeployment } from './deploy';

const settings = loadConfig(
  'artifactsBucket',
  'pipelinesDir',
  'canaryWeight',
  'canaryWindow',
  'canaryWindowMax',
  'alarmPrefix',
);
const s3 = new S3Client({});
const cloudwatch = new CloudWatchClient({});
const logger = new Logger({ serviceName: 'mlpipe-deploy' });

export const handler = async (event: unknown): Promise<DeploySummary | Judgement> => {
  const parsed = parseEvent(deployEventSchema, event, 'the deploy step');
  logger.appendKeys({ pipeline: parsed.run.pipeline, ingestId: parsed.run.ingestId, action: parsed.action });
  const deps = { s3, cloudwatch, settings };
  const result =
    parsed.action === 'deploy' ? await deployModel(parsed, deps) : await judgeDeployment(parsed, deps);
  logger.info(parsed.action === 'deploy' ? 'deployment record written' : 'canary judged', { ...result });
  return result;
};
