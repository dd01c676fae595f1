import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, S3Event } from 'aws-lambda';
import type { IngestReport } from '../../core/ingest';
import { compiledSpecsFile, readCompiledSpecs } from '../../core/spec/load';
import { loadConfig } from '../shared/config';
import { decodeEventKey } from '../shared/event';
import { ingestObject } from './ingest';

/**
 * S3 ObjectCreated on incoming/<pipeline>/ → ingest each object. Clients and configuration are built
 * once per cold start; the handler only decodes the event and shapes the answer.
 */
const config = loadConfig(
  'rawBucket',
  'curatedBucket',
  'artifactsBucket',
  'trainingStateMachineArn',
  'pipelinesDir',
  'scratchDir',
  'maxFileBytes',
  'maxLineBytes',
);
// `serverless package` carries the specs compiled; run from source there may be none.
const compiledSpecs = readCompiledSpecs(compiledSpecsFile(config.pipelinesDir));
const s3 = new S3Client({});
const sfn = new SFNClient({});
const logger = new Logger({ serviceName: 'mlpipe-ingest' });
const metrics = new Metrics({ namespace: 'mlpipe', serviceName: 'ingest' });

export const handler = async (event: S3Event, context: Context): Promise<{ ingests: IngestReport[] }> => {
  const reports: IngestReport[] = [];
  try {
    for (const record of event.Records ?? []) {
      const source = {
        bucket: record.s3.bucket.name,
        key: decodeEventKey(record.s3.object.key),
        etag: record.s3.object.eTag ?? '',
        size: record.s3.object.size,
      };
      logger.appendKeys({ bucket: source.bucket, key: source.key });
      const outcome = await ingestObject(source, {
        s3,
        sfn,
        settings: config,
        log: logger,
        ...(compiledSpecs && { compiledSpecs }),
        attempt: context.awsRequestId,
        remainingMs: context.getRemainingTimeInMillis(),
      });
      if (outcome.state === 'in-progress') continue;
      const { report } = outcome;
      metrics.addDimension('pipeline', report.pipeline);
      metrics.addMetric('RowsIn', MetricUnit.Count, report.rowsIn);
      metrics.addMetric(
        'RowsCurated',
        MetricUnit.Count,
        report.rowsCurated.train + report.rowsCurated.validation + report.rowsCurated.test,
      );
      metrics.addMetric('RowsQuarantined', MetricUnit.Count, report.rowsQuarantined);
      metrics.addMetric('Bytes', MetricUnit.Bytes, outcome.bytes);
      metrics.addMetric('DurationMs', MetricUnit.Milliseconds, report.timings.totalMs ?? 0);
      metrics.addMetric(report.status === 'curated' ? 'FilesCurated' : 'FilesRejected', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      reports.push(report);
    }
  } finally {
    logger.resetKeys();
  }
  return { ingests: reports };
};
