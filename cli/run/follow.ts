import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  paginateGetExecutionHistory,
  type SFNClient,
} from '@aws-sdk/client-sfn';

/**
 * Follows a Step Functions execution through GetExecutionHistory and turns its events into one
 * progress line per state: what ran, how long it took, and why it failed. Works the same against
 * AWS and the local cloud, because it only reads the history.
 */
export interface StateProgress {
  readonly state: string;
  readonly status: 'entered' | 'succeeded' | 'failed';
  readonly seconds?: number;
  readonly detail?: string;
}

const ENTERED = /StateEntered$/;
const EXITED = /StateExited$/;

export class HistoryReader {
  private readonly entered = new Map<string, number>();
  private readonly failures = new Map<string, string>();
  private lastEventId = 0;

  /** Feeds new events (any that were seen already are ignored) and returns the progress they mean. */
  read(events: readonly HistoryEvent[]): StateProgress[] {
    const progress: StateProgress[] = [];
    for (const event of events) {
      const id = event.id ?? 0;
      if (id <= this.lastEventId) continue;
      this.lastEventId = id;
      const type = event.type ?? '';
      const at = event.timestamp ? new Date(event.timestamp).getTime() : Date.now();
      if (ENTERED.test(type)) {
        const state = event.stateEnteredEventDetails?.name ?? '?';
        this.entered.set(state, at);
        progress.push({ state, status: 'entered' });
      } else if (type === 'TaskFailed' || type === 'LambdaFunctionFailed') {
        const details = event.taskFailedEventDetails ?? event.lambdaFunctionFailedEventDetails;
        const current = [...this.entered.keys()].at(-1) ?? '?';
        this.failures.set(current, [details?.error, details?.cause].filter(Boolean).join(': '));
      } else if (EXITED.test(type)) {
        const state = event.stateExitedEventDetails?.name ?? '?';
        const started = this.entered.get(state) ?? at;
        const failure = this.failures.get(state);
        progress.push({
          state,
          status: failure ? 'failed' : 'succeeded',
          seconds: (at - started) / 1000,
          ...(failure ? { detail: failure } : {}),
        });
      }
    }
    return progress;
  }
}

/** Every event of an execution's history, oldest first, across pages. */
export const executionHistory = async (sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> => {
  const events: HistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client: sfn, pageSize: 1000 }, { executionArn }))
    events.push(...(page.events ?? []));
  return events;
};

export const formatProgress = (p: StateProgress): string => {
  if (p.status === 'entered') return `  … ${p.state}`;
  const mark = p.status === 'succeeded' ? '✓' : '✗';
  const time = p.seconds === undefined ? '' : ` ${p.seconds.toFixed(1)} s`;
  return `  ${mark} ${p.state}${time}${p.detail ? ` — ${p.detail.slice(0, 300)}` : ''}`;
};

/** True when the last state entered is `state` and its task has been submitted. */
/** The last state entered (of that name, when given): where a run is, and what it was given there. */
export const lastEntered = (events: readonly HistoryEvent[], state?: string): HistoryEvent | undefined =>
  events.findLast(
    (e) => ENTERED.test(e.type ?? '') && (state === undefined || e.stateEnteredEventDetails?.name === state),
  );

const waitingIn = (events: readonly HistoryEvent[], state: string): boolean => {
  const entered = lastEntered(events);
  if (entered?.stateEnteredEventDetails?.name !== state) return false;
  return events.some((e) => (e.id ?? 0) > (entered.id ?? 0) && e.type === 'TaskSubmitted');
};

export interface FollowOptions {
  readonly pollMs?: number;
  readonly timeoutMs?: number;
  /** A state that waits for a person (a `.waitForTaskToken` task): return once its task is submitted. */
  readonly pauseAt?: string;
  /** How long an execution that does not exist yet may take to appear (it is started by an event). */
  readonly appearWithinMs?: number;
  readonly onProgress: (p: StateProgress) => void;
}

export class ExecutionTimeoutError extends Error {
  override name = 'ExecutionTimeoutError';
}

/** Polls until the execution leaves RUNNING (or waits for a person) and returns its description. */
export const followExecution = async (
  sfn: SFNClient,
  executionArn: string,
  { pollMs = 250, timeoutMs = 30 * 60_000, pauseAt, appearWithinMs = 0, onProgress }: FollowOptions,
): Promise<DescribeExecutionCommandOutput> => {
  const reader = new HistoryReader();
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    let events: HistoryEvent[];
    try {
      events = await executionHistory(sfn, executionArn);
    } catch (error) {
      if ((error as Error).name !== 'ExecutionDoesNotExist' || Date.now() > started + appearWithinMs)
        throw error;
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    for (const p of reader.read(events)) onProgress(p);
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (description.status !== 'RUNNING') {
      // It may have ended after the history above was read: its last states are in a fresh read.
      for (const p of reader.read(await executionHistory(sfn, executionArn))) onProgress(p);
      return description;
    }
    if (pauseAt && waitingIn(events, pauseAt)) return description;
    if (Date.now() > deadline)
      throw new ExecutionTimeoutError(`${executionArn} still running after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
};

/** What a state was given the last time it was entered: the run's state while it waits there. */
export const inputOfState = async (
  sfn: SFNClient,
  executionArn: string,
  state: string,
): Promise<unknown | undefined> => {
  const input = lastEntered(await executionHistory(sfn, executionArn), state)?.stateEnteredEventDetails
    ?.input;
  return input === undefined ? undefined : JSON.parse(input);
};
