import { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { loadConfig } from '../shared/config';
import { decodeEventKey } from '../shared/event';
import { type BatchReport, scoreBatchObject } from './batch';
import { logger, models, specs, validators } from './runtime';
import { annotate, traced, tracer } from './tracing';

const config = loadConfig('rawBucket', 'scratchDir', 'maxLineBytes');
// The files to score are read with S3's checksums checked, as the SDK does by default.
const s3 = tracer.captureAWSv3Client(new S3Client({}));
const settings = {
  bucket: config.rawBucket,
  scratchDir: config.scratchDir,
  maxLineBytes: config.maxLineBytes,
};

/** S3 ObjectCreated under batch-input/<pipeline>/ → batch-output/<pipeline>/. */
export const handler = traced('infer-batch', async (event: S3Event): Promise<BatchReport[]> => {
  const reports: BatchReport[] = [];
  for (const record of event.Records) {
    const source = { bucket: record.s3.bucket.name, key: decodeEventKey(record.s3.object.key) };
    logger.appendKeys({ source: `s3://${source.bucket}/${source.key}` });
    const report = await scoreBatchObject(source, { s3, models, specs, validators, settings });
    (report.status === 'scored' ? logger.info.bind(logger) : logger.warn.bind(logger))('batch file done', {
      status: report.status,
      ...(report.reason ? { reason: report.reason } : {}),
      rowsIn: report.rowsIn,
      rowsScored: report.rowsScored,
      rowsRejected: report.rowsRejected,
    });
    annotate({
      pipeline: report.source.key.split('/')[1] ?? '',
      status: report.status,
      rowsIn: report.rowsIn,
    });
    reports.push(report);
  }
  return reports;
});
