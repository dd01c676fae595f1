import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { readCompiledSpecs, SpecCatalog } from '../../core/spec/load';
import { loadConfig } from '../shared/config';
import { COMPILED_SPECS } from './code-cache';
import { powertoolsMetrics } from './metrics';
import { ServingModels } from './models';
import { Validators } from './scoring';
import { tracer } from './tracing';

/**
 * What every entry point of the inference image shares on one instance: the specs, the deployment
 * records and the loaded models. Built once per cold start, at module scope.
 */
const settings = loadConfig(
  'artifactsBucket',
  'pipelinesDir',
  'scratchDir',
  'modelRecordTtlMs',
  'modelMemoryBudgetBytes',
  'scorerThreads',
);

export const s3 = tracer.captureAWSv3Client(new S3Client({}));
export const models = new ServingModels(s3, {
  artifactsBucket: settings.artifactsBucket,
  scratchDir: settings.scratchDir,
  recordTtlMs: settings.modelRecordTtlMs,
  memoryBudgetBytes: settings.modelMemoryBudgetBytes,
  scorerThreads: settings.scorerThreads,
});
// The image carries its specs compiled beside this module's bundle (make-code-cache.ts); run from
// source, as locally and in tests, there are none and the YAML is read.
export const specs = new SpecCatalog(
  settings.pipelinesDir,
  readCompiledSpecs(join(__dirname, COMPILED_SPECS)),
);
export const validators = new Validators(specs);
export const metrics = powertoolsMetrics();
export const logger = new Logger({ serviceName: 'mlpipe-infer' });
