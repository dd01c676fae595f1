import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { formatProgress, HistoryReader } from '../../../cli/run/follow';

const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 6, 0, s));
const entered = (id: number, name: string, s: number): HistoryEvent => ({
  id,
  type: 'TaskStateEntered',
  timestamp: at(s),
  stateEnteredEventDetails: { name },
});
const exited = (id: number, name: string, s: number): HistoryEvent => ({
  id,
  type: 'TaskStateExited',
  timestamp: at(s),
  stateExitedEventDetails: { name },
});

describe('following an execution', () => {
  it('gives one line when a state starts and one when it ends, with its duration', () => {
    const reader = new HistoryReader();
    const lines = reader
      .read([entered(1, 'PlanFeatures', 0), exited(2, 'PlanFeatures', 3), entered(3, 'Train', 3)])
      .map(formatProgress);
    expect(lines).toEqual(['  … PlanFeatures', '  ✓ PlanFeatures 3.0 s', '  … Train']);
  });

  it('reports each event once when the history is read again as it grows', () => {
    const reader = new HistoryReader();
    const first = [entered(1, 'Train', 0)];
    reader.read(first);
    const again = reader.read([...first, exited(2, 'Train', 42)]);
    expect(again.map(formatProgress)).toEqual(['  ✓ Train 42.0 s']);
  });

  it('marks a state that failed and says why', () => {
    const reader = new HistoryReader();
    const progress = reader.read([
      entered(1, 'Train', 0),
      {
        id: 2,
        type: 'TaskFailed',
        timestamp: at(5),
        taskFailedEventDetails: {
          resourceType: 'sagemaker',
          resource: 'createTrainingJob.sync',
          error: 'States.TaskFailed',
          cause: 'AlgorithmError: num_round must be a number',
        },
      },
      exited(3, 'Train', 5),
    ]);
    expect(progress.at(-1)).toMatchObject({ state: 'Train', status: 'failed' });
    expect(formatProgress(progress.at(-1) ?? { state: '?', status: 'entered' })).toBe(
      '  ✗ Train 5.0 s — States.TaskFailed: AlgorithmError: num_round must be a number',
    );
  });
});
