import type { Outcome, RunState } from './run-state';

/**
 * What mlpipe tells the world at the end of every training run (and when it waits for a person):
 * published to SNS and as an EventBridge event `mlpipe.training` / `Training Run <Outcome>`.
 */
export interface TrainingNotification {
  readonly pipeline: string;
  readonly outcome: Outcome;
  readonly modelVersion: string | null;
  readonly metrics: Readonly<Record<string, number | null>> | null;
  readonly champion: {
    readonly version: string;
    readonly metrics: Readonly<Record<string, number | null>>;
  } | null;
  readonly reason: string;
  readonly execution: string;
  readonly ingestId: string;
  readonly at: string;
}

/** A Catch's Cause is often the JSON of the failed call; dig out the sentence a person needs. */
export const summariseCause = (cause: string | undefined): string => {
  if (!cause) return 'no cause given';
  try {
    const parsed = JSON.parse(cause) as Record<string, unknown>;
    for (const key of ['FailureReason', 'errorMessage', 'message', 'Message', 'StateChangeReason']) {
      const value = parsed[key];
      if (typeof value === 'string' && value) return value;
    }
  } catch {
    // Not JSON: the cause is already a sentence.
  }
  return cause.length > 500 ? `${cause.slice(0, 497)}...` : cause;
};

const reasonFor = (outcome: Outcome, state: RunState, execution: string): string => {
  const evaluated = state.evaluated?.result;
  switch (outcome) {
    case 'failed': {
      const step = state.evaluated
        ? 'after evaluation'
        : state.training
          ? 'evaluation'
          : state.planned
            ? 'training or feature extraction'
            : 'feature planning';
      return `${state.error?.Error ?? 'failed'} during ${step}: ${summariseCause(state.error?.Cause)}`;
    }
    case 'rejected':
      if (state.rejection) return `rejected by a reviewer: ${summariseCause(state.rejection.Cause)}`;
      return `gate: ${evaluated?.gate.reasons.join('; ') || 'did not pass'}`;
    case 'rolled-back':
      return `rolled back after the canary window: ${state.judged?.result.reason ?? 'alarm'}`;
    case 'waiting-for-approval':
      return `waiting for a person: mlpipe approve ${execution} (or mlpipe reject ${execution} --reason …)`;
    case 'deployed':
      if (state.judged) return `promoted to champion after the canary window: ${state.judged.result.reason}`;
      return state.deployed?.result.canary === false && state.deployed.result.champion === evaluated?.version
        ? 'first model of this pipeline: deployed as champion'
        : 'deployed';
  }
};

/**
 * The outcome of a run from its final state and its execution's status: the same outcome its Notify
 * state announced (a run waiting in AwaitApproval is still RUNNING).
 */
export const outcomeOf = (state: RunState, executionStatus: string): Outcome => {
  if (executionStatus === 'RUNNING') return 'waiting-for-approval';
  if (executionStatus !== 'SUCCEEDED' || state.error) return 'failed';
  if (state.rejection || (state.evaluated && !state.evaluated.result.gate.passed)) return 'rejected';
  if (state.judged && !state.judged.result.promoted) return 'rolled-back';
  return 'deployed';
};

export const describeOutcome = (
  outcome: Outcome,
  state: RunState,
  execution: string,
  now: Date,
): TrainingNotification => {
  const evaluated = state.evaluated?.result;
  return {
    pipeline: state.pipeline,
    outcome,
    modelVersion: evaluated?.version ?? state.training?.jobName ?? null,
    metrics: evaluated?.metrics ?? null,
    champion: evaluated?.champion ?? null,
    reason: reasonFor(outcome, state, execution),
    execution,
    ingestId: state.ingestId,
    at: now.toISOString(),
  };
};

export const notificationSubject = (n: TrainingNotification): string =>
  `mlpipe ${n.pipeline}: ${n.outcome}${n.modelVersion ? ` (${n.modelVersion})` : ''}`.slice(0, 100);
