import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { loadConfig } from '../shared/config';
import { withoutSdkLogging } from '../shared/sdk';
import { logger, metrics, models, validators } from './runtime';
import { RecentlyWritten } from './scoring';
import { scoreStreamBatch } from './stream';
import { annotate, traced, tracer } from './tracing';

const settings = loadConfig('predictionsStream', 'failuresQueueUrl');
const kinesis = tracer.captureAWSv3Client(withoutSdkLogging(new KinesisClient({})));
const sqs = tracer.captureAWSv3Client(withoutSdkLogging(new SQSClient({})));
const written = new RecentlyWritten();

/** Kinesis events stream → predictions stream (ReportBatchItemFailures; bisect on error). */
export const handler = traced(
  'infer-stream',
  async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    const { response, summary } = await scoreStreamBatch(event, {
      models,
      validators,
      kinesis,
      sqs,
      settings,
      metrics,
      written,
    });
    annotate({
      records: summary.records,
      predicted: summary.predicted,
      poisoned: summary.poisoned,
      deferred: summary.deferred,
    });
    if (summary.deferred > 0) logger.warn('records left for a retry', { ...summary });
    else logger.info('batch scored', { ...summary });
    return response;
  },
);
