import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputFileError, readRows } from '../../../cli/read-table';

describe('reading an input file for mlpipe run and predict', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-read-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives JSON values as they are written, even where a key holds text in one row and a number in another', async () => {
    const rows = [
      { Title: 'Alien', Year: 1979 },
      { Title: 1776, Year: null },
      { Title: 'Heat', Year: 1995 },
    ];
    writeFileSync(join(dir, 'movies.json'), JSON.stringify(rows));
    writeFileSync(join(dir, 'movies.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    expect(await readRows(join(dir, 'movies.json'))).toEqual(rows);
    expect(await readRows(join(dir, 'movies.jsonl'))).toEqual(rows);
  });

  it('names the file when it cannot be read', async () => {
    writeFileSync(join(dir, 'torn.json'), '[{"Title": "Alien"');
    await expect(readRows(join(dir, 'torn.json'))).rejects.toThrow(InputFileError);
    await expect(readRows(join(dir, 'torn.json'))).rejects.toThrow(/torn\.json/);
  });

  it('says a file that is not there is not there, and not with the query it would have run', async () => {
    const missing = join(dir, 'missing.csv');
    await expect(readRows(missing)).rejects.toThrow(new InputFileError(`${missing}: no such file`));
    const folder = join(dir, 'folder.csv');
    mkdirSync(folder);
    await expect(readRows(folder)).rejects.toThrow(new InputFileError(`${folder}: no such file`));
  });
});
