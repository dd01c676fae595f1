import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { type EvaluationSummary, runStateSchema } from '../../core/pipeline';
import { loadConfig } from '../shared/config';
import { parseEvent } from '../shared/event';
import { evaluateCandidate } from './evaluate';

const settings = loadConfig('artifactsBucket', 'pipelinesDir', 'scratchDir');
const s3 = new S3Client({});
const logger = new Logger({ serviceName: 'mlpipe-evaluate' });

export const handler = async (event: unknown): Promise<EvaluationSummary> => {
  const state = parseEvent(runStateSchema, event, 'the training state');
  logger.appendKeys({ pipeline: state.pipeline, ingestId: state.ingestId });
  const summary = await evaluateCandidate(state, { s3, settings });
  logger.info('evaluated', { version: summary.version, metrics: summary.metrics, gate: summary.gate });
  return summary;
};
