import type { S3Event } from 'aws-lambda';
import { loadConfig } from '../shared/config';
import { decodeEventKey } from '../shared/event';
import { type BatchReport, scoreBatchObject } from './batch';
import { logger, models, s3, specs, validators } from './runtime';

const config = loadConfig('rawBucket', 'scratchDir', 'maxLineBytes');
const settings = {
  bucket: config.rawBucket,
  scratchDir: config.scratchDir,
  maxLineBytes: config.maxLineBytes,
};

/** S3 ObjectCreated under batch-input/<pipeline>/ → batch-output/<pipeline>/. */
export const handler = async (event: S3Event): Promise<BatchReport[]> => {
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
    reports.push(report);
  }
  return reports;
};
