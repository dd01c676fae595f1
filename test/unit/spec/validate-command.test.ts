import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../cli/main';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
};

describe('mlpipe validate', () => {
  it('exits 0 and names each valid spec when all shipped specs are valid', async () => {
    const { io, out, err } = capture();
    await expect(main(['validate'], io)).resolves.toBe(0);
    expect(out).toEqual([
      'ok  cars (regression, 6 features)',
      'ok  flights (binary, 7 features)',
      'ok  movies (regression, 8 features)',
      'ok  penguins (multiclass, 6 features)',
    ]);
    expect(err).toEqual([]);
  });

  it('exits 1 and lists every error with file, path and reason for a broken spec', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-validate-'));
    const broken = join(dir, 'penguins.yml');
    const text = readFileSync(join(__dirname, '../../../pipelines/penguins.yml'), 'utf8');
    writeFileSync(
      broken,
      text
        .replace('accuracy: { min: 0.9 }', 'accuracy: { min: 1.5 }')
        .replace('task: multiclass', 'task: multi'),
    );
    const { io, err } = capture();
    await expect(main(['validate', broken], io)).resolves.toBe(1);
    expect(err.join('\n')).toContain(
      ': target.task: expected one of regression, binary, multiclass, got "multi"',
    );
    expect(err.at(-1)).toBe('1 of 1 spec(s) invalid');
  });

  it('checks every spec of a folder it is given, and names a path that is not there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-validate-'));
    const text = readFileSync(join(__dirname, '../../../pipelines/penguins.yml'), 'utf8');
    writeFileSync(join(dir, 'penguins.yml'), text);
    writeFileSync(
      join(dir, 'split.yml'),
      text.replace('name: penguins', 'name: split').replace('test: 0.15', 'test: 0.25'),
    );
    writeFileSync(join(dir, 'notes.txt'), 'not a spec');
    const { io, out, err } = capture();
    await expect(main(['validate', dir, join(dir, 'gone.yml')], io)).resolves.toBe(1);
    expect(out).toEqual(['ok  penguins (multiclass, 6 features)']);
    expect(err).toEqual([
      expect.stringMatching(/split\.yml: split: train \+ validation \+ test must be 1, got 1\.1$/),
      `${join(dir, 'gone.yml')}: no such file`,
      '2 of 3 spec(s) invalid',
    ]);
  });

  it('rejects a spec whose name does not match its file name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-validate-'));
    const file = join(dir, 'penguin.yml');
    writeFileSync(file, readFileSync(join(__dirname, '../../../pipelines/penguins.yml'), 'utf8'));
    const { io, err } = capture();
    await expect(main(['validate', file], io)).resolves.toBe(1);
    expect(err[0]).toMatch(/penguin\.yml: name: must match the file name "penguin", got "penguins"$/);
  });

  it('answers an unknown command with exit code 2 and the list of commands', async () => {
    const { io, err, out } = capture();
    await expect(main(['frobnicate'], io)).resolves.toBe(2);
    expect(err).toEqual(['mlpipe: unknown command "frobnicate"']);
    expect(out.join('\n')).toContain('validate');
  });
});
