import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { readCompiledSpecs, SpecCatalog } from '../../core/spec/load';
import { loadConfig } from '../shared/config';
import { selfCheckedObjectsClient } from '../shared/s3';
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

// Deployment records and bundles: both are checked once read (functions/shared/s3.ts).
const modelStore = tracer.captureAWSv3Client(selfCheckedObjectsClient());
export const models = new ServingModels(modelStore, {
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
