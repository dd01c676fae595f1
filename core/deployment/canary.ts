/**
 * What the canary watches. The inference function emits these metrics per pipeline and per variant
 * (champion / challenger); infra/pipelines.js declares one pair of alarms per pipeline on the
 * challenger's series, and the judge step reads them when the canary window ends. Keeping the
 * names here means the emitter, the alarms and the judge cannot drift apart.
 */
export const CANARY_METRICS = {
  namespace: 'mlpipe',
  /** Fraction of a batch's records that failed to score (0..1), one value per batch. */
  errorRate: 'InferenceErrorRate',
  /** Milliseconds from a batch's arrival to its predictions being written. */
  latency: 'InferenceLatency',
} as const;

export const canaryDimensions = (pipeline: string, variant: 'champion' | 'challenger') =>
  [
    { Name: 'pipeline', Value: pipeline },
    { Name: 'variant', Value: variant },
  ] as const;

export const canaryAlarmNames = (prefix: string, pipeline: string) =>
  ({
    errors: `${prefix}-${pipeline}-challenger-errors`,
    latency: `${prefix}-${pipeline}-challenger-latency`,
  }) as const;

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmReading {
  readonly name: string;
  readonly state: AlarmState;
  readonly reason?: string;
}

export interface CanaryVerdict {
  readonly promote: boolean;
  readonly reason: string;
  readonly alarms: readonly string[];
}

/**
 * Promote unless an alarm of the challenger fired. Without traffic during the window the alarms
 * have no data; like CodeDeploy's alarm-based rollbacks, silence is not a failure.
 */
export const judgeCanary = (version: string, readings: readonly AlarmReading[]): CanaryVerdict => {
  const firing = readings.filter((r) => r.state === 'ALARM');
  if (firing.length > 0) {
    const detail = firing.map((r) => (r.reason ? `${r.name} (${r.reason})` : r.name)).join('; ');
    return {
      promote: false,
      reason: `rolled back ${version}: alarm fired: ${detail}`,
      alarms: firing.map((r) => r.name),
    };
  }
  const silent = readings.filter((r) => r.state === 'INSUFFICIENT_DATA').map((r) => r.name);
  const reason =
    silent.length === readings.length && readings.length > 0
      ? `promoted ${version}: no alarm fired (no canary traffic reached ${silent.join(', ')})`
      : `promoted ${version}: no alarm fired during the canary window`;
  return { promote: true, reason, alarms: [] };
};
