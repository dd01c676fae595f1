import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServingModel, readBundle } from '../../../core/model';
import { lambdaVcpus, loadConfig } from '../../../functions/shared/config';
import { jsonDataset } from '../../support/datasets';
import { PENGUIN_HYPERPARAMETERS, trainModel } from '../../support/models';

const penguins = jsonDataset('penguins.json');

const withEnv = <T>(env: Record<string, string | undefined>, read: () => T): T => {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(env);
  try {
    return read();
  } finally {
    set(saved);
  }
};

const threadsWith = (env: Record<string, string | undefined>) =>
  withEnv(env, () => loadConfig('scorerThreads').scorerThreads);

describe("onnxruntime's threads", () => {
  it("gives a Lambda function's session a thread per vCPU its memory pays for, to the nearest whole one", () => {
    const byMemory = Object.fromEntries(
      ['128', '1024', '2048', '3008', '3538', '10240'].map((memory) => [
        memory,
        threadsWith({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: memory, MLPIPE_SCORER_THREADS: undefined }),
      ]),
    );
    expect(byMemory).toEqual({ 128: 1, 1024: 1, 2048: 1, 3008: 2, 3538: 2, 10240: 6 });
    expect(lambdaVcpus(1769)).toBe(1);
  });

  it("leaves onnxruntime's own default outside Lambda, and takes MLPIPE_SCORER_THREADS over both", () => {
    expect(
      threadsWith({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: undefined, MLPIPE_SCORER_THREADS: undefined }),
    ).toBe(0);
    expect(threadsWith({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048', MLPIPE_SCORER_THREADS: '2' })).toBe(2);
    expect(threadsWith({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: undefined, MLPIPE_SCORER_THREADS: '4' })).toBe(4);
  });

  it('refuses a thread count that is not a whole number, naming the variable', () => {
    for (const bad of ['-1', '1.5', 'two']) {
      expect(() => threadsWith({ MLPIPE_SCORER_THREADS: bad })).toThrow(/MLPIPE_SCORER_THREADS/);
    }
  });

  describe('a served model', () => {
    const work = mkdtempSync(join(tmpdir(), 'mlpipe-threads-'));
    afterAll(() => rmSync(work, { recursive: true, force: true }));
    // Linux lists a process's threads in /proc/self/task.
    const threadCount = () => readdirSync('/proc/self/task').length;

    it('runs on the threads it is given: none of its own with one, n − 1 with n', async () => {
      const bundle = await readBundle(await trainModel(work, 'threads', penguins, PENGUIN_HYPERPARAMETERS));
      // The first session also starts onnxruntime's environment, with a thread of its own.
      await (await loadServingModel(bundle, { threads: 1 })).release();
      const started: Record<number, number> = {};
      for (const threads of [1, 3]) {
        const before = threadCount();
        const model = await loadServingModel(bundle, { threads });
        started[threads] = threadCount() - before;
        const { predictions } = await model.predict(penguins.slice(0, 5));
        expect(predictions).toHaveLength(5);
        await model.release();
      }
      expect(started).toEqual({ 1: 0, 3: 2 });
    });
  });
});
