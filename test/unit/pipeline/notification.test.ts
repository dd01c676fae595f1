import {
  describeOutcome,
  notificationSubject,
  outcomeOf,
  type RunState,
  summariseCause,
} from '../../../core/pipeline';

const base: RunState = {
  pipeline: 'penguins',
  ingestId: 'ing-1',
  curated: { bucket: 'curated', prefix: 'curated/penguins/ingest=ing-1/' },
  report: { bucket: 'artifacts', key: 'reports/ingest/penguins/ing-1.json' },
};
const evaluated = (passed: boolean, reasons: string[] = []) => ({
  result: {
    version: 'mlpipe-dev-123',
    model: { bucket: 'artifacts', key: 'models/penguins/mlpipe-dev-123/output/model.tar.gz' },
    evaluation: { bucket: 'artifacts', key: 'evaluations/penguins/mlpipe-dev-123/evaluation.json' },
    metrics: { accuracy: 0.97 },
    champion: { version: 'mlpipe-dev-100', metrics: { accuracy: 0.96 } },
    gate: { passed, reasons, comparedOn: 'accuracy' },
    rows: 52,
  },
});
const at = new Date('2026-11-23T00:00:00Z');
const exec = 'arn:aws:states:us-east-1:000000000000:execution:training:abc';

describe('training notifications', () => {
  it('reports a gate rejection with the gate reasons, the metrics and the champion', () => {
    const n = describeOutcome(
      'rejected',
      { ...base, evaluated: evaluated(false, ['accuracy 0.41 is below the minimum 0.9']) },
      exec,
      at,
    );
    expect(n).toEqual({
      pipeline: 'penguins',
      outcome: 'rejected',
      modelVersion: 'mlpipe-dev-123',
      metrics: { accuracy: 0.97 },
      champion: { version: 'mlpipe-dev-100', metrics: { accuracy: 0.96 } },
      reason: 'gate: accuracy 0.41 is below the minimum 0.9',
      execution: exec,
      ingestId: 'ing-1',
      at: '2026-11-23T00:00:00.000Z',
    });
    expect(notificationSubject(n)).toBe('mlpipe penguins: rejected (mlpipe-dev-123)');
  });

  it('explains a trainer failure from the failure reason SageMaker reported', () => {
    const state: RunState = {
      ...base,
      planned: {
        plan: {
          featureParams: { bucket: 'a', key: 'k' },
          features: { bucket: 'a', prefix: 'p' },
          queries: [],
          training: {},
        },
      },
      error: {
        Error: 'States.TaskFailed',
        Cause: JSON.stringify({
          TrainingJobStatus: 'Failed',
          FailureReason: 'target column "label" is missing',
        }),
      },
    };
    expect(describeOutcome('failed', state, exec, at).reason).toBe(
      'States.TaskFailed during training or feature extraction: target column "label" is missing',
    );
  });

  it('tells a person how to answer when a model waits for approval', () => {
    expect(describeOutcome('waiting-for-approval', base, exec, at).reason).toBe(
      `waiting for a person: mlpipe approve ${exec} (or mlpipe reject ${exec} --reason …)`,
    );
  });

  it('says why a canary was promoted or rolled back', () => {
    const judged = (promoted: boolean) => ({
      result: {
        promoted,
        reason: promoted ? 'no alarm fired' : 'mlpipe-dev-penguins-challenger-errors in ALARM',
        alarms: [],
      },
    });
    expect(
      describeOutcome('deployed', { ...base, evaluated: evaluated(true), judged: judged(true) }, exec, at)
        .reason,
    ).toBe('promoted to champion after the canary window: no alarm fired');
    expect(
      describeOutcome('rolled-back', { ...base, evaluated: evaluated(true), judged: judged(false) }, exec, at)
        .reason,
    ).toBe('rolled back after the canary window: mlpipe-dev-penguins-challenger-errors in ALARM');
  });

  it('keeps a plain-text cause and shortens a very long one', () => {
    expect(summariseCause('out of memory')).toBe('out of memory');
    expect(summariseCause('x'.repeat(600))).toHaveLength(500);
    expect(summariseCause(undefined)).toBe('no cause given');
  });
});

describe('the outcome of a finished run', () => {
  it.each([
    ['deployed', { ...base, evaluated: evaluated(true) }, 'SUCCEEDED'],
    ['rejected', { ...base, evaluated: evaluated(false, ['too low']) }, 'SUCCEEDED'],
    ['failed', { ...base, error: { Error: 'States.TaskFailed', Cause: 'boom' } }, 'FAILED'],
    ['waiting-for-approval', { ...base, evaluated: evaluated(true) }, 'RUNNING'],
  ] as const)('is %s for its state and execution status', (outcome, state, status) => {
    expect(outcomeOf(state, status)).toBe(outcome);
  });
});
