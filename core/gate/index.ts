import type { Metrics } from '../metrics';
import { HEADLINE_METRIC, LOWER_IS_BETTER, type MetricName, type PipelineSpec } from '../spec/schema';

/**
 * The evaluation gate: a candidate is deployable only when it meets every threshold of the spec
 * AND is not worse than the champion on the same test split by more than the champion margin.
 * Margins are absolute for rate metrics (accuracy, f1, auc, r2) and relative for error metrics
 * (rmse, mae, logloss), whose scale depends on the data.
 */
export interface GateCheck {
  readonly metric: string;
  readonly kind: 'min' | 'max' | 'champion';
  readonly value: number;
  readonly bound: number;
  readonly passed: boolean;
}

export interface GateDecision {
  readonly passed: boolean;
  /** One sentence per failed check, for the notification and the model registry. */
  readonly reasons: readonly string[];
  readonly checks: readonly GateCheck[];
  readonly comparedOn: MetricName;
}

export interface ChampionResult {
  readonly version: string;
  readonly metrics: Metrics;
}

const lowerIsBetter = (metric: string): boolean => (LOWER_IS_BETTER as readonly string[]).includes(metric);
const fmt = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v));

export const decideGate = (
  spec: PipelineSpec,
  candidate: Metrics,
  champion?: ChampionResult,
): GateDecision => {
  const checks: GateCheck[] = [];
  const reasons: string[] = [];
  for (const [metric, bounds] of Object.entries(spec.gate.metrics)) {
    if (!bounds) continue;
    const value = candidate[metric] ?? Number.NaN;
    for (const kind of ['min', 'max'] as const) {
      const bound = bounds[kind];
      if (bound === undefined) continue;
      // NaN (e.g. AUC of a single-class test split) never passes: an unmeasurable model is not deployable.
      const passed = kind === 'min' ? value >= bound : value <= bound;
      checks.push({ metric, kind, value, bound, passed });
      if (!passed)
        reasons.push(
          `${metric} ${fmt(value)} is ${kind === 'min' ? 'below the minimum' : 'above the maximum'} ${fmt(bound)}`,
        );
    }
  }
  const comparedOn: MetricName = spec.gate.compareOn ?? HEADLINE_METRIC[spec.target.task];
  if (champion) {
    const value = candidate[comparedOn] ?? Number.NaN;
    const championValue = champion.metrics[comparedOn] ?? Number.NaN;
    const margin = spec.gate.championMargin;
    const bound = lowerIsBetter(comparedOn) ? championValue * (1 + margin) : championValue - margin;
    // A champion that cannot be measured on this split (NaN) cannot block its replacement.
    const passed =
      Number.isNaN(championValue) || (lowerIsBetter(comparedOn) ? value <= bound : value >= bound);
    checks.push({ metric: comparedOn, kind: 'champion', value, bound, passed });
    if (!passed) {
      reasons.push(
        `${comparedOn} ${fmt(value)} is worse than champion ${champion.version} (${fmt(championValue)}) by more than the margin ${margin}`,
      );
    }
  }
  return { passed: reasons.length === 0, reasons, checks, comparedOn };
};
