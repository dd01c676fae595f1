import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../../trainers/gbdt/train';

const work = mkdtempSync(join(tmpdir(), 'mlpipe-bad-input-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let jobs = 0;
/** A job folder with one CSV train file; returns the failure reason the job wrote (or '' if none). */
const failureOf = async (
  csv: string | undefined,
  hyperparameters: Record<string, string>,
): Promise<string> => {
  const root = join(work, `job-${jobs++}`);
  mkdirSync(join(root, 'input/config'), { recursive: true });
  writeFileSync(join(root, 'input/config/hyperparameters.json'), JSON.stringify(hyperparameters));
  if (csv !== undefined) {
    mkdirSync(join(root, 'input/data/train'), { recursive: true });
    writeFileSync(join(root, 'input/data/train/data.csv'), csv);
  }
  const code = await runTraining(root, { log: () => {} });
  return code === 0 ? '' : readFileSync(join(root, 'output/failure'), 'utf8');
};

const rows = (n: number, line: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => line(i)).join('\n');
const binary = { objective: 'binary:logistic', target: 'label', num_round: '5' };

describe('a training job given bad input', () => {
  it('fails when the train channel is missing', async () => {
    expect(await failureOf(undefined, binary)).toMatch(/ENOENT|no data files|input\/data\/train/);
  });

  it('fails when the train channel holds only a header', async () => {
    expect(await failureOf('x,label\n', binary)).toContain('train channel: no rows');
  });

  it('fails when the target column is missing, naming the columns it has', async () => {
    expect(await failureOf(`x,y\n${rows(20, (i) => `${i},${i % 2}`)}`, binary)).toContain(
      'train channel: no column "label"; columns: x, y',
    );
  });

  it('fails on an input column without a single value', async () => {
    expect(await failureOf(`x,empty,label\n${rows(20, (i) => `${i},,${i % 2}`)}`, binary)).toContain(
      'column "empty" has no value in any row',
    );
  });

  it('fails when a classifier sees a single class', async () => {
    expect(await failureOf(`x,label\n${rows(20, (i) => `${i},1`)}`, binary)).toContain(
      'label has a single class (1); a classifier needs at least two',
    );
  });

  it.each(['NaN', 'Infinity'])('fails on %s in the target, naming the row', async (bad) => {
    const csv = `x,label\n${rows(20, (i) => `${i},${i === 7 ? bad : i * 1.5}`)}`;
    expect(await failureOf(csv, { target: 'label', num_round: '5' })).toContain(`row 8: label is ${bad}`);
  });

  it('fails on a CSV row with too few fields instead of padding it with nulls', async () => {
    const csv = `x,z,label\n${rows(20, (i) => `${i},${i},${i % 2}`)}\n7,1\n`;
    expect(await failureOf(csv, binary)).toContain('line 22 has 2 field(s), the header has 3');
  });

  it('fails on an unknown hyperparameter, listing the known ones', async () => {
    expect(
      await failureOf(`x,label\n${rows(20, (i) => `${i},${i % 2}`)}`, { ...binary, depth: '3' }),
    ).toContain('hyperparameter depth: unknown; known:');
  });

  it('trains when the input is fine (the checks do not reject good data)', async () => {
    expect(await failureOf(`x,label\n${rows(40, (i) => `${i},${i > 20 ? 1 : 0}`)}`, binary)).toBe('');
  });
});
