import { ExecutionHistory, type HistoryEvent } from '../../../local/sfn/history';

const entered = (name: string) => ({ stateEnteredEventDetails: { name } });
const exited = (name: string) => ({ stateExitedEventDetails: { name } });
/** Each event's type, and the state it enters or exits. */
const typesOf = (events: readonly HistoryEvent[]) =>
  events.map((e) => {
    const state = (e.stateEnteredEventDetails ?? e.stateExitedEventDetails) as { name: string } | undefined;
    return state ? `${e.type} ${state.name}` : e.type;
  });

describe("an execution's history", () => {
  it("places a task's events after its state's entry when they come before it, and numbers events as they go in", () => {
    const events: HistoryEvent[] = [];
    const history = new ExecutionHistory(events);
    history.engine('ExecutionStarted', {}, 1);
    history.engine('TaskStateEntered', entered('Train'), 2, { name: 'Train', entering: true });
    history.task('Train', 'TaskScheduled', {}, 3);
    history.task('Train', 'TaskSucceeded', {}, 5);
    // The next state's task runs before the engine reports Train's exit and Evaluate's entry.
    history.task('Evaluate', 'TaskScheduled', {}, 5);
    history.engine('TaskStateExited', exited('Train'), 5, { name: 'Train', entering: false });
    history.engine('TaskStateEntered', entered('Evaluate'), 5, { name: 'Evaluate', entering: true });
    history.task('Evaluate', 'TaskSucceeded', {}, 6);
    history.engine('TaskStateExited', exited('Evaluate'), 6, { name: 'Evaluate', entering: false });
    history.engine('ExecutionSucceeded', {}, 7);
    expect(typesOf(events)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered Train',
      'TaskScheduled',
      'TaskSucceeded',
      'TaskStateExited Train',
      'TaskStateEntered Evaluate',
      'TaskScheduled',
      'TaskSucceeded',
      'TaskStateExited Evaluate',
      'ExecutionSucceeded',
    ]);
    expect(events.map((e) => [e.id, e.previousEventId])).toEqual(events.map((_, i) => [i + 1, i]));
    expect(events.map((e) => e.timestamp)).toEqual([...events.map((e) => e.timestamp)].sort((a, b) => a - b));
  });

  it('loses no task event whose state the engine never reported entering: it goes in before the end', () => {
    const events: HistoryEvent[] = [];
    const history = new ExecutionHistory(events);
    history.engine('ExecutionStarted', {}, 1);
    history.task('Orphan', 'TaskFailed', {}, 2);
    history.engine('ExecutionFailed', {}, 3);
    expect(typesOf(events)).toEqual(['ExecutionStarted', 'TaskFailed', 'ExecutionFailed']);
  });
});
