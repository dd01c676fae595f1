import type { Outcome } from '../../core/pipeline';
import type { RunResult } from './pipeline-run';

/**
 * `mlpipe run --json`: what a script needs from a run, in one object. `status` is the outcome the
 * notifications use; a file refused at ingest is `rejected` with the ingest's reason.
 */
export interface RunSummary {
  readonly status: Outcome;
  readonly pipeline: string;
  readonly modelVersion: string | null;
  readonly metrics: Readonly<Record<string, number | null>> | null;
  readonly champion: {
    readonly version: string;
    readonly metrics: Readonly<Record<string, number | null>>;
  } | null;
  readonly reason: string;
  readonly ingest: {
    readonly id: string;
    readonly status: string;
    readonly rowsIn: number;
    readonly rowsCurated: { readonly train: number; readonly validation: number; readonly test: number };
    readonly rowsQuarantined: number;
  };
  readonly execution: string | null;
  readonly modelPackageArn: string | null;
  readonly serving: { readonly champion: string | null; readonly challenger: string | null };
}

export const summarizeRun = (pipeline: string, result: RunResult): RunSummary => {
  const { report, state, execution, deployment } = result;
  const evaluated = state?.evaluated?.result;
  const outcome = ((): { status: Outcome; reason: string } => {
    if (report.status !== 'curated')
      return { status: 'rejected', reason: `ingest: ${report.rejection ?? 'rejected'}` };
    if (execution?.status === 'RUNNING')
      return {
        status: 'waiting-for-approval',
        reason: `waiting for a person: mlpipe approve ${execution.arn}`,
      };
    if (execution?.status !== 'SUCCEEDED')
      return {
        status: 'failed',
        reason:
          `${state?.error?.Error ?? execution?.error ?? 'failed'}: ${state?.error?.Cause ?? execution?.cause ?? ''}`.trim(),
      };
    if (state?.rejection)
      return { status: 'rejected', reason: `rejected by a reviewer: ${state.rejection.Cause ?? ''}` };
    if (evaluated && !evaluated.gate.passed)
      return { status: 'rejected', reason: `gate: ${evaluated.gate.reasons.join('; ')}` };
    if (state?.judged && !state.judged.result.promoted)
      return { status: 'rolled-back', reason: state.judged.result.reason };
    return { status: 'deployed', reason: state?.judged?.result.reason ?? deployment?.reason ?? 'deployed' };
  })();
  return {
    status: outcome.status,
    pipeline,
    modelVersion: evaluated?.version ?? null,
    metrics: evaluated?.metrics ?? null,
    champion: evaluated?.champion
      ? { version: evaluated.champion.version, metrics: evaluated.champion.metrics }
      : null,
    reason: outcome.reason,
    ingest: {
      id: report.ingestId,
      status: report.status,
      rowsIn: report.rowsIn,
      rowsCurated: report.rowsCurated,
      rowsQuarantined: report.rowsQuarantined,
    },
    execution: execution?.arn ?? null,
    modelPackageArn: state?.registered?.result.modelPackageArn ?? null,
    serving: {
      champion: deployment?.champion?.version ?? null,
      challenger: deployment?.challenger?.version ?? null,
    },
  };
};
