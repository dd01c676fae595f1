import { createHash } from 'node:crypto';
import type { EvaluationSummary } from './run-state';

/**
 * The model registry entry of a candidate: a versioned model package in the pipeline's group, with
 * its metrics, the gate's decision and its lineage, so the registry alone answers "what is this
 * model and why was it (not) deployed".
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html
 */
export type RegistryStatus = 'Approved' | 'PendingManualApproval' | 'Rejected';

export interface RegistrationContext {
  readonly modelPackageGroup: string;
  /** The inference image that serves this model (the `infer` function's image). */
  readonly inferenceImage: string;
  readonly execution: string;
  readonly ingestId: string;
  readonly trainingJob: string;
}

/** SageMaker limits: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html */
const DESCRIPTION_MAX = 1024;
const METADATA_VALUE_MAX = 256;
const CLIENT_TOKEN_MAX = 36;

const clip = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

/** Same execution + same action → same token, so a retried Lambda never registers twice. */
export const registryClientToken = (execution: string, action: string): string =>
  createHash('sha256').update(`${execution}\u0000${action}`).digest('hex').slice(0, CLIENT_TOKEN_MAX);

export const modelPackageInput = (
  evaluation: EvaluationSummary,
  status: RegistryStatus,
  context: RegistrationContext,
) => {
  const gate = evaluation.gate.passed
    ? `passed the gate on ${evaluation.gate.comparedOn}`
    : `rejected by the gate: ${evaluation.gate.reasons.join('; ')}`;
  const metrics: Record<string, string> = {};
  for (const [name, value] of Object.entries(evaluation.metrics)) {
    metrics[`metric:${name}`] = value === null ? 'null' : String(value);
  }
  return {
    ModelPackageGroupName: context.modelPackageGroup,
    ModelPackageDescription: clip(`${evaluation.version}: ${gate}`, DESCRIPTION_MAX),
    ModelApprovalStatus: status,
    ClientToken: registryClientToken(context.execution, 'register'),
    InferenceSpecification: {
      Containers: [
        {
          Image: context.inferenceImage,
          ModelDataUrl: `s3://${evaluation.model.bucket}/${evaluation.model.key}`,
        },
      ],
      SupportedContentTypes: ['application/json'],
      SupportedResponseMIMETypes: ['application/json'],
    },
    ModelMetrics: {
      ModelQuality: {
        Statistics: {
          ContentType: 'application/json',
          S3Uri: `s3://${evaluation.evaluation.bucket}/${evaluation.evaluation.key}`,
        },
      },
    },
    MetadataProperties: { GeneratedBy: clip(context.execution, DESCRIPTION_MAX) },
    CustomerMetadataProperties: {
      version: evaluation.version,
      ingest: context.ingestId,
      trainingJob: context.trainingJob,
      gate: evaluation.gate.passed ? 'passed' : 'failed',
      gateReasons: clip(evaluation.gate.reasons.join('; ') || 'none', METADATA_VALUE_MAX),
      champion: evaluation.champion?.version ?? 'none',
      testRows: String(evaluation.rows),
      ...metrics,
    },
  };
};
