export interface HistoryEvent {
  timestamp: number;
  type: string;
  id: number;
  previousEventId: number;
  [details: string]: unknown;
}

const eventOf = (type: string, details: Record<string, unknown>, at: number): HistoryEvent => ({
  ...details,
  timestamp: at,
  type,
  // Numbered as it goes into the history.
  id: 0,
  previousEventId: 0,
});

/** An event without the data it carries: each of its details' `input` and `output`. */
export const withoutData = (event: HistoryEvent): HistoryEvent =>
  Object.fromEntries(
    Object.entries(event).map(([key, value]) => {
      if (!key.endsWith('EventDetails') || typeof value !== 'object' || value === null) return [key, value];
      const { input: _input, output: _output, ...rest } = value as Record<string, unknown>;
      return [key, rest];
    }),
  ) as HistoryEvent;

/**
 * One execution's history, in the order AWS writes it: a state's entry, its task's events, its exit,
 * then the next state's entry.
 *
 * The engine reports executions, states and map iterations through an async generator that lags
 * behind the task handlers, so a task's events often arrive before its state's entry, and the
 * previous state's exit, the next state's entry and its task's first events share a millisecond.
 * Ordering by time put a task's events before the exit of the state before it. Events are placed by
 * cause instead: the engine's keep the engine's order; a task's events go in as they come while
 * their state is entered, and otherwise wait for its next entry.
 */
export class ExecutionHistory {
  /** How many times each state is entered and not yet exited (a Map runs its iterations at once). */
  private readonly entered = new Map<string, number>();
  /** Task events that came before their state's entry. */
  private readonly early = new Map<string, HistoryEvent[]>();

  constructor(
    readonly events: HistoryEvent[],
    private readonly changed: () => void = () => {},
  ) {}

  /** An event of the engine's own; `state` is the state it enters or exits, if it does. */
  engine(
    type: string,
    details: Record<string, unknown>,
    at: number,
    state?: { readonly name: string; readonly entering: boolean },
  ): void {
    // An execution's end comes last: a task event still waiting for a state the engine never
    // reported entering goes in before it rather than being lost.
    if (type.startsWith('Execution') && type !== 'ExecutionStarted') {
      for (const early of this.early.values()) for (const event of early) this.push(event);
      this.early.clear();
    }
    this.push(eventOf(type, details, at));
    if (!state) return;
    const open = this.entered.get(state.name) ?? 0;
    if (!state.entering) {
      this.entered.set(state.name, Math.max(0, open - 1));
      return;
    }
    this.entered.set(state.name, open + 1);
    const early = this.early.get(state.name);
    this.early.delete(state.name);
    for (const event of early ?? []) this.push(event);
  }

  /** An event of the task that state `state` runs. */
  task(state: string, type: string, details: Record<string, unknown>, at: number): void {
    const event = eventOf(type, details, at);
    if ((this.entered.get(state) ?? 0) > 0) {
      this.push(event);
      return;
    }
    const early = this.early.get(state) ?? [];
    early.push(event);
    this.early.set(state, early);
  }

  private push(event: HistoryEvent): void {
    const last = this.events.at(-1);
    // A history's times never go back, though an event that waited for its state may be older.
    event.timestamp = Math.max(event.timestamp, last?.timestamp ?? event.timestamp);
    event.id = this.events.length + 1;
    event.previousEventId = this.events.length;
    this.events.push(event);
    this.changed();
  }
}
