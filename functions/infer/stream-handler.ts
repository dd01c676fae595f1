import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { loadConfig } from '../shared/config';
import { logger, metrics, models, validators } from './runtime';
import { RecentlyWritten } from './scoring';
import { scoreStreamBatch } from './stream';

const settings = loadConfig('predictionsStream', 'failuresQueueUrl');
const kinesis = new KinesisClient({});
const sqs = new SQSClient({});
const written = new RecentlyWritten();

/** Kinesis events stream → predictions stream (ReportBatchItemFailures; bisect on error). */
export const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
  const { response, summary } = await scoreStreamBatch(event, {
    models,
    validators,
    kinesis,
    sqs,
    settings,
    metrics,
    written,
  });
  if (summary.deferred > 0) logger.warn('records left for a retry', { ...summary });
  else logger.info('batch scored', { ...summary });
  return response;
};
