import { join } from 'node:path';
import { AwsServiceError } from '../protocol/errors';
import { startJsonService } from '../protocol/json';
import type { QueryDialect } from '../protocol/query';
import { openJsonStore } from '../protocol/store';
import type { RunningService } from '../types';

/**
 * CloudWatch metrics and alarms for what mlpipe uses. Datapoints come from PutMetricData and from
 * the functions' embedded-metric-format log lines (Powertools Metrics), which the local Lambda
 * hands over; alarms (from the template, or PutMetricAlarm) are evaluated on them whenever
 * DescribeAlarms asks, so a canary judge sees locally what it would see in AWS.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
type Json = Record<string, unknown>;
type Dimensions = Record<string, string>;

interface Datapoint {
  namespace: string;
  name: string;
  dimensions: Dimensions;
  at: number;
  value: number;
  unit?: string;
}

interface Alarm {
  name: string;
  description?: string;
  namespace: string;
  metric: string;
  dimensions: Dimensions;
  statistic?: string;
  extendedStatistic?: string;
  period: number;
  evaluationPeriods: number;
  threshold: number;
  comparison: string;
  treatMissingData: string;
  updated: number;
}

export interface RunningCloudWatch extends RunningService {
  /** Takes one log line of a function; EMF lines become datapoints. */
  captureLog(line: string): void;
}

/** Datapoints older than this are dropped: the local cloud answers questions about recent traffic. */
const RETENTION_MS = 24 * 3600 * 1000;

/** The query protocol, which AWS CLIs before 2.13 speak to CloudWatch: lists in `<member>`. */
const CLOUDWATCH_QUERY: QueryDialect = {
  namespace: 'http://monitoring.amazonaws.com/doc/2010-08-01/',
  maps: ['ExtendedStatistics'],
};

/** A timestamp as the JSON protocol sends it (epoch seconds) or the query protocol (ISO 8601), in ms. */
const epochMs = (value: unknown): number =>
  typeof value === 'number' || /^\d+(\.\d+)?$/.test(String(value))
    ? Number(value) * 1000
    : Date.parse(String(value));

const dimensionsOf = (list: unknown): Dimensions =>
  Object.fromEntries(
    ((list ?? []) as { Name?: string; Value?: string }[]).map((d) => [String(d.Name), String(d.Value)]),
  );
const sameDimensions = (a: Dimensions, b: Dimensions) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

export const statistic = (values: readonly number[], name: string): number => {
  if (values.length === 0) return Number.NaN;
  const percentile = /^p(\d+(?:\.\d+)?)$/.exec(name);
  if (percentile) {
    const sorted = [...values].sort((x, y) => x - y);
    const rank = Math.ceil((Number(percentile[1]) / 100) * sorted.length) - 1;
    return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
  }
  switch (name) {
    case 'Average':
      return values.reduce((s, v) => s + v, 0) / values.length;
    case 'Sum':
      return values.reduce((s, v) => s + v, 0);
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'SampleCount':
      return values.length;
    default:
      throw new AwsServiceError('InvalidParameterValue', `unknown statistic ${name}`);
  }
};

const breaches = (value: number, threshold: number, comparison: string): boolean =>
  ({
    GreaterThanThreshold: value > threshold,
    GreaterThanOrEqualToThreshold: value >= threshold,
    LessThanThreshold: value < threshold,
    LessThanOrEqualToThreshold: value <= threshold,
  })[comparison] ?? false;

export const startCloudWatch = async ({
  port,
  dataDir,
}: {
  port: number;
  dataDir: string;
}): Promise<RunningCloudWatch> => {
  const store = openJsonStore<{ points: Datapoint[]; alarms: Record<string, Alarm> }>(
    join(dataDir, 'cloudwatch', 'state.json'),
    () => ({ points: [], alarms: {} }),
  );
  const { alarms } = store.data;
  let dirty = false;
  const saver = setInterval(() => {
    if (!dirty) return;
    dirty = false;
    const cutoff = Date.now() - RETENTION_MS;
    store.data.points = store.data.points.filter((p) => p.at >= cutoff);
    store.save();
  }, 500).unref(); // as the Step Functions saver: a failed start must leave nothing running
  const add = (p: Datapoint) => {
    store.data.points.push(p);
    dirty = true;
  };
  const select = (namespace: string, name: string, dimensions: Dimensions, from: number, to: number) =>
    store.data.points.filter(
      (p) =>
        p.namespace === namespace &&
        p.name === name &&
        p.at >= from &&
        p.at < to &&
        sameDimensions(p.dimensions, dimensions),
    );

  const evaluate = (alarm: Alarm, now: number) => {
    const from = now - alarm.period * alarm.evaluationPeriods * 1000;
    const values = select(alarm.namespace, alarm.metric, alarm.dimensions, from, now + 1).map((p) => p.value);
    const stat = alarm.extendedStatistic ?? alarm.statistic ?? 'Average';
    if (values.length === 0) {
      const state =
        alarm.treatMissingData === 'breaching'
          ? 'ALARM'
          : alarm.treatMissingData === 'notBreaching'
            ? 'OK'
            : 'INSUFFICIENT_DATA';
      return {
        state,
        reason: `no datapoints in the last ${alarm.period * alarm.evaluationPeriods}s (treated as ${alarm.treatMissingData})`,
      };
    }
    const value = statistic(values, stat);
    const firing = breaches(value, alarm.threshold, alarm.comparison);
    return {
      state: firing ? 'ALARM' : 'OK',
      reason: `${stat} ${value} over ${values.length} datapoint(s) ${firing ? 'crossed' : 'within'} the threshold (${alarm.comparison} ${alarm.threshold})`,
    };
  };

  const service = await startJsonService(
    {
      key: 'CLOUDWATCH',
      protocol: 'awsJson1_0',
      query: CLOUDWATCH_QUERY,
      operations: {
        PutMetricData: async (input) => {
          const namespace = String(input.Namespace ?? '');
          for (const d of (input.MetricData ?? []) as Json[]) {
            // Numbers arrive as text over the query protocol.
            const values = d.Values ? (d.Values as unknown[]).map(Number) : [Number(d.Value)];
            for (const value of values) {
              add({
                namespace,
                name: String(d.MetricName),
                dimensions: dimensionsOf(d.Dimensions),
                at: d.Timestamp ? epochMs(d.Timestamp) : Date.now(),
                value,
                ...(d.Unit ? { unit: String(d.Unit) } : {}),
              });
            }
          }
          return {};
        },
        ListMetrics: async (input) => {
          const seen = new Map<string, Json>();
          for (const p of store.data.points) {
            if (input.Namespace && p.namespace !== input.Namespace) continue;
            if (input.MetricName && p.name !== input.MetricName) continue;
            const key = JSON.stringify([p.namespace, p.name, p.dimensions]);
            seen.set(key, {
              Namespace: p.namespace,
              MetricName: p.name,
              Dimensions: Object.entries(p.dimensions).map(([Name, Value]) => ({ Name, Value })),
            });
          }
          return { Metrics: [...seen.values()] };
        },
        GetMetricStatistics: async (input) => {
          const period = Number(input.Period ?? 60);
          const from = epochMs(input.StartTime);
          const to = epochMs(input.EndTime);
          const points = select(
            String(input.Namespace),
            String(input.MetricName),
            dimensionsOf(input.Dimensions),
            from,
            to,
          );
          const buckets = new Map<number, number[]>();
          for (const p of points) {
            const start = from + Math.floor((p.at - from) / (period * 1000)) * period * 1000;
            buckets.set(start, [...(buckets.get(start) ?? []), p.value]);
          }
          const stats = (input.Statistics ?? []) as string[];
          const extended = (input.ExtendedStatistics ?? []) as string[];
          return {
            Label: input.MetricName,
            Datapoints: [...buckets.entries()].map(([start, values]) => ({
              Timestamp: start / 1000,
              ...Object.fromEntries(stats.map((s) => [s, statistic(values, s)])),
              ...(extended.length > 0
                ? { ExtendedStatistics: Object.fromEntries(extended.map((s) => [s, statistic(values, s)])) }
                : {}),
            })),
          };
        },
        GetMetricData: async (input) => {
          const from = epochMs(input.StartTime);
          const to = epochMs(input.EndTime);
          return {
            MetricDataResults: ((input.MetricDataQueries ?? []) as Json[]).map((q) => {
              const stat = (q.MetricStat ?? {}) as Json;
              const metric = (stat.Metric ?? {}) as Json;
              const period = Number(stat.Period ?? 60) * 1000;
              const points = select(
                String(metric.Namespace),
                String(metric.MetricName),
                dimensionsOf(metric.Dimensions),
                from,
                to,
              );
              const buckets = new Map<number, number[]>();
              for (const p of points) {
                const start = from + Math.floor((p.at - from) / period) * period;
                buckets.set(start, [...(buckets.get(start) ?? []), p.value]);
              }
              const ordered = [...buckets.entries()].sort((a, b) => b[0] - a[0]);
              return {
                Id: q.Id,
                Label: q.Label ?? metric.MetricName,
                Timestamps: ordered.map(([t]) => t / 1000),
                Values: ordered.map(([, v]) => statistic(v, String(stat.Stat ?? 'Average'))),
                StatusCode: 'Complete',
              };
            }),
          };
        },
        PutMetricAlarm: async (input) => {
          const name = String(input.AlarmName ?? '');
          if (!name) throw new AwsServiceError('ValidationError', 'AlarmName is required');
          alarms[name] = {
            name,
            ...(input.AlarmDescription ? { description: String(input.AlarmDescription) } : {}),
            namespace: String(input.Namespace ?? ''),
            metric: String(input.MetricName ?? ''),
            dimensions: dimensionsOf(input.Dimensions),
            ...(input.Statistic ? { statistic: String(input.Statistic) } : {}),
            ...(input.ExtendedStatistic ? { extendedStatistic: String(input.ExtendedStatistic) } : {}),
            period: Number(input.Period ?? 60),
            evaluationPeriods: Number(input.EvaluationPeriods ?? 1),
            threshold: Number(input.Threshold ?? 0),
            comparison: String(input.ComparisonOperator ?? 'GreaterThanThreshold'),
            treatMissingData: String(input.TreatMissingData ?? 'missing'),
            updated: Date.now(),
          };
          store.save();
          return {};
        },
        DescribeAlarms: async (input) => {
          const names = input.AlarmNames as string[] | undefined;
          const prefix = input.AlarmNamePrefix as string | undefined;
          const now = Date.now();
          return {
            MetricAlarms: Object.values(alarms)
              .filter((a) => (!names || names.includes(a.name)) && (!prefix || a.name.startsWith(prefix)))
              .map((a) => {
                const { state, reason } = evaluate(a, now);
                return {
                  AlarmName: a.name,
                  AlarmArn: `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${a.name}`,
                  AlarmDescription: a.description,
                  Namespace: a.namespace,
                  MetricName: a.metric,
                  Dimensions: Object.entries(a.dimensions).map(([Name, Value]) => ({ Name, Value })),
                  ...(a.statistic ? { Statistic: a.statistic } : {}),
                  ...(a.extendedStatistic ? { ExtendedStatistic: a.extendedStatistic } : {}),
                  Period: a.period,
                  EvaluationPeriods: a.evaluationPeriods,
                  Threshold: a.threshold,
                  ComparisonOperator: a.comparison,
                  TreatMissingData: a.treatMissingData,
                  StateValue: state,
                  StateReason: reason,
                  StateUpdatedTimestamp: now / 1000,
                  AlarmConfigurationUpdatedTimestamp: a.updated / 1000,
                };
              }),
          };
        },
      },
    },
    port,
    async () => {
      clearInterval(saver);
      store.save();
    },
  );

  return {
    ...service,
    captureLog: (line) => {
      if (!line.includes('"_aws"')) return;
      let doc: Json;
      try {
        doc = JSON.parse(line) as Json;
      } catch {
        return;
      }
      const aws = doc._aws as { Timestamp?: number; CloudWatchMetrics?: Json[] } | undefined;
      for (const directive of aws?.CloudWatchMetrics ?? []) {
        const namespace = String(directive.Namespace ?? '');
        const sets = (directive.Dimensions ?? [[]]) as string[][];
        for (const metric of (directive.Metrics ?? []) as { Name: string; Unit?: string }[]) {
          const raw = doc[metric.Name];
          const values = Array.isArray(raw) ? (raw as number[]) : [Number(raw)];
          for (const set of sets) {
            const dimensions = Object.fromEntries(set.map((k) => [k, String(doc[k] ?? '')]));
            for (const value of values) {
              if (!Number.isFinite(value)) continue;
              add({
                namespace,
                name: metric.Name,
                dimensions,
                at: aws?.Timestamp ?? Date.now(),
                value,
                ...(metric.Unit ? { unit: metric.Unit } : {}),
              });
            }
          }
        }
      }
    },
  };
};
