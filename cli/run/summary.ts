import { describeOutcome, type Outcome, outcomeOf, type TrainingNotification } from '../../core/pipeline';
import type { RunResult } from './pipeline-run';

/**
 * `mlpipe run --json`: what a script needs from a run, in one object — the run's notification
 * (outcome, version, metrics, champion, reason), plus ingest counts, the registry entry and what
 * serves. A file refused at ingest is `rejected` with the ingest's reason.
 */
export interface RunSummary
  extends Pick<TrainingNotification, 'pipeline' | 'modelVersion' | 'metrics' | 'champion' | 'reason'> {
  readonly status: Outcome;
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
  const run = ((): Pick<RunSummary, 'status' | 'modelVersion' | 'metrics' | 'champion' | 'reason'> => {
    const none = { modelVersion: null, metrics: null, champion: null };
    if (report.status !== 'curated')
      return { status: 'rejected', ...none, reason: `ingest: ${report.rejection ?? 'rejected'}` };
    // Curated, but not to be trained on: as a rejection, no model, and the reason why.
    if (report.trainingSkipped !== undefined)
      return { status: 'rejected', ...none, reason: `no training: ${report.trainingSkipped}` };
    if (!state || !execution)
      return {
        status: 'failed',
        ...none,
        reason: `${execution?.error ?? 'failed'}: ${execution?.cause ?? 'the execution left no state'}`,
      };
    const status = outcomeOf(state, execution.status);
    const { modelVersion, metrics, champion, reason } = describeOutcome(
      status,
      state,
      execution.arn,
      new Date(),
    );
    return { status, modelVersion, metrics, champion, reason };
  })();
  return {
    ...run,
    pipeline,
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
