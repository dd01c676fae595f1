import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Variant } from '../../core/deployment';
import { CANARY_METRICS } from '../../core/deployment';

/**
 * What inference reports, per pipeline and variant (the series the canary alarms watch, declared in
 * infra/pipelines.js) and per model version. Each call writes one EMF line; the variant series
 * carries only `pipeline` and `variant`, without Powertools' default `service` dimension, because an
 * alarm matches a metric by its exact set of dimensions.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export interface ModelTraffic {
  readonly pipeline: string;
  readonly variant: Variant;
  readonly version: string;
  readonly records: number;
  /** Records this model failed to score (load or run errors), not the records' own faults. */
  readonly failures: number;
  readonly latencyMs: number;
}

export interface InferenceMetrics {
  traffic(traffic: ModelTraffic): void;
  rejected(reason: string, count: number): void;
}

export const INFERENCE_METRICS = {
  records: 'InferenceRecords',
  throughput: 'InferenceRecordsPerSecond',
  rejected: 'InferenceRejectedRecords',
} as const;

const emitter = (): Metrics => {
  const metrics = new Metrics({ namespace: CANARY_METRICS.namespace });
  metrics.clearDefaultDimensions();
  return metrics;
};

export const powertoolsMetrics = (): InferenceMetrics => ({
  traffic: ({ pipeline, variant, version, records, failures, latencyMs }) => {
    if (records === 0) return;
    const metrics = emitter();
    metrics.addDimension('pipeline', pipeline);
    metrics.addDimension('variant', variant);
    // A second series per model version (its name carries the pipeline).
    metrics.addDimensions({ modelVersion: version });
    metrics.addMetric(CANARY_METRICS.errorRate, MetricUnit.NoUnit, failures / records);
    metrics.addMetric(CANARY_METRICS.latency, MetricUnit.Milliseconds, latencyMs);
    metrics.addMetric(INFERENCE_METRICS.records, MetricUnit.Count, records);
    if (latencyMs > 0)
      metrics.addMetric(
        INFERENCE_METRICS.throughput,
        MetricUnit.CountPerSecond,
        (records * 1000) / latencyMs,
      );
    metrics.publishStoredMetrics();
  },
  rejected: (reason, count) => {
    if (count === 0) return;
    const metrics = emitter();
    metrics.addDimensions({ reason });
    metrics.addMetric(INFERENCE_METRICS.rejected, MetricUnit.Count, count);
    metrics.publishStoredMetrics();
  },
});
