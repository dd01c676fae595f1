import { Arrivals, forEachAtOnce } from '../../../functions/shared/at-once';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('running work a few items at once', () => {
  it('does every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachAtOnce([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await tick(5);
      done.push(item);
      running -= 1;
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('starts nothing after a failure, and throws it only once the started items have settled', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const run = forEachAtOnce([1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      if (item === 1) throw new Error('item 1 failed');
      await tick(30);
      finished.push(item);
    });
    await expect(run).rejects.toThrow('item 1 failed');
    expect(started).toEqual([1, 2]);
    expect(finished).toEqual([2]);
  });

  it('starts items that arrive over time as they come, and ends once they are closed and done', async () => {
    const arrivals = new Arrivals<number>();
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const run = forEachAtOnce(arrivals, 2, async (item) => {
      started.push(item);
      running += 1;
      most = Math.max(most, running);
      await tick(10);
      running -= 1;
    });
    arrivals.push(1);
    await tick(1);
    // Started before the next one arrived.
    expect(started).toEqual([1]);
    for (const item of [2, 3, 4]) arrivals.push(item);
    let ended = false;
    void run.then(() => {
      ended = true;
    });
    await tick(40);
    expect(started).toEqual([1, 2, 3, 4]);
    expect(most).toBe(2);
    // Every item is done, but more could come until the arrivals are closed.
    expect(ended).toBe(false);
    arrivals.close();
    await run;
    expect(() => arrivals.push(5)).toThrow(/closed/);
  });

  it('starts no arriving item after a failure, and throws it once the started ones have settled', async () => {
    const arrivals = new Arrivals<number>();
    const finished: number[] = [];
    const started: number[] = [];
    const run = forEachAtOnce(arrivals, 2, async (item) => {
      started.push(item);
      if (item === 1) throw new Error('item 1 failed');
      await tick(30);
      finished.push(item);
    });
    arrivals.push(2);
    arrivals.push(1);
    await tick(5);
    arrivals.push(3);
    arrivals.close();
    await expect(run).rejects.toThrow('item 1 failed');
    expect(started).toEqual([2, 1]);
    expect(finished).toEqual([2]);
  });

  it('does nothing for no items', async () => {
    const work = jest.fn(async () => {});
    await forEachAtOnce([], 4, work);
    expect(work).not.toHaveBeenCalled();
  });
});
