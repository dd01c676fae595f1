/**
 * Runs `work` on each item, at most `limit` at once. After a failure no item is started, and the
 * first failure is thrown only once every item already started has settled: a caller that closes a
 * file, or an attempt whose writes a retry will clean up, must not have work still in flight.
 * The items may arrive over time (Arrivals): each is started as it comes, and the run ends once
 * they are closed and done.
 */
export const forEachAtOnce = async <T>(
  items: readonly T[] | Arrivals<T>,
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> => {
  const source = Array.isArray(items)
    ? (items as readonly T[])[Symbol.iterator]()
    : (items as Arrivals<T>)[Symbol.asyncIterator]();
  let failed = false;
  const worker = async () => {
    while (!failed) {
      const next = await source.next();
      if (next.done || failed) return;
      try {
        await work(next.value);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.isArray(items) ? Math.min(limit, items.length) : limit;
  const settled = await Promise.allSettled(Array.from({ length: workers }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
};

/** Items that arrive one by one, until closed, for forEachAtOnce to start as they come. */
export class Arrivals<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #waiting: ((next: IteratorResult<T, undefined>) => void)[] = [];
  #closed = false;

  push(item: T): void {
    if (this.#closed) throw new Error('no item can arrive once the arrivals are closed');
    const waiting = this.#waiting.shift();
    if (waiting) waiting({ value: item, done: false });
    else this.#items.push(item);
  }

  /** No more items: whoever waits for one is told so. Closing twice is harmless. */
  close(): void {
    this.#closed = true;
    for (const waiting of this.#waiting.splice(0)) waiting({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift() as T, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiting.push(resolve));
      },
    };
  }
}
