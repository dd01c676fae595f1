import { forEachAtOnce } from '../../../functions/shared/at-once';

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

  it('does nothing for no items', async () => {
    const work = jest.fn(async () => {});
    await forEachAtOnce([], 4, work);
    expect(work).not.toHaveBeenCalled();
  });
});
