import { Logger } from '@aws-lambda-powertools/logger';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { RegistrationSummary } from '../../core/pipeline';
import { loadConfig } from '../shared/config';
import { parseEvent } from '../shared/event';
import { registerEventSchema, registerModel } from './register';

const settings = loadConfig('modelPackageGroupPrefix', 'inferenceImage', 'approvalRequired');
const sagemaker = new SageMakerClient({});
const logger = new Logger({ serviceName: 'mlpipe-register' });

export const handler = async (event: unknown): Promise<RegistrationSummary> => {
  const parsed = parseEvent(registerEventSchema, event, 'the register step');
  logger.appendKeys({ pipeline: parsed.run.pipeline, ingestId: parsed.run.ingestId, action: parsed.action });
  const summary = await registerModel(parsed, { sagemaker, settings });
  logger.info('registered', { ...summary });
  return summary;
};
