/**
 * Runs `work` on each item, at most `limit` at once. After a failure no item is started, and the
 * first failure is thrown only once every item already started has settled: a caller that closes a
 * file, or an attempt whose writes a retry will clean up, must not have work still in flight.
 */
export const forEachAtOnce = async <T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> => {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
};
