import { untilDone } from '../../../local/sfn/tasks';

describe('a .sync task integration of the local Step Functions', () => {
  it('polls its job 50 ms after starting it, then twice as long each time up to the configured wait', async () => {
    const waits: number[] = [];
    let polls = 0;
    const state = await untilDone(
      async () => ({ status: ++polls < 8 ? 'RUNNING' : 'SUCCEEDED', polls }),
      (s) => s.status === 'SUCCEEDED',
      1000,
      async (ms) => waits.push(ms),
    );
    expect(state).toEqual({ status: 'SUCCEEDED', polls: 8 });
    expect(waits).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
  });

  it('answers at the first poll, without waiting, when the job has already ended', async () => {
    const waits: number[] = [];
    const state = await untilDone(
      async () => 'Completed',
      (s) => s === 'Completed',
      1000,
      async (ms) => waits.push(ms),
    );
    expect(state).toBe('Completed');
    expect(waits).toEqual([]);
  });
});
