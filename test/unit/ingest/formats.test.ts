import { gzipSync } from 'node:zlib';
import { checkFormat } from '../../../core/ingest';

const all = ['csv', 'jsonl', 'json', 'parquet'] as const;
const text = (s: string) => new TextEncoder().encode(s);
const check = (key: string, body: Uint8Array, textBody = body) => checkFormat(key, body, textBody, all);

describe('detecting what a dropped file is', () => {
  it('accepts each format whose content matches its name', () => {
    expect(check('a.csv', text('x,y\n1,2'))).toEqual({ ok: true, detected: { format: 'csv', gzip: false } });
    expect(check('a.jsonl', text('{"x":1}\n'))).toMatchObject({ ok: true, detected: { format: 'jsonl' } });
    expect(check('a.json', text(' [{"x":1}]'))).toMatchObject({ ok: true, detected: { format: 'json' } });
    expect(check('a.parquet', text('PAR1....'))).toMatchObject({ ok: true, detected: { format: 'parquet' } });
    const zipped = gzipSync('x,y\n1,2');
    expect(check('a.csv.gz', zipped, text('x,y\n1,2'))).toEqual({
      ok: true,
      detected: { format: 'csv', gzip: true },
    });
  });

  it.each([
    ['a.csv', gzipSync('x'), 'gzip-compressed but not named .gz'],
    ['a.csv.gz', text('x,y'), 'named .gz but not gzip-compressed'],
    ['a.parquet', text('x,y'), 'named .parquet but not a Parquet file'],
    ['a.json', text('{"x":1}'), 'named .json but does not hold a JSON array'],
    ['a.csv', text('[1,2]'), 'named .csv but holds JSON'],
    ['a.xlsx', text('x'), 'unknown file type ".xlsx"'],
    ['incoming/v1.2/data', text('x'), 'no file type in its name'],
    ['incoming/v1.2/data.tsv.bak', text('x'), 'unknown file type ".bak"'],
    ['a.csv', text(''), 'empty file'],
    ['a.csv', text('  \n\n'), 'empty file'],
  ])('refuses %s whose content does not match, saying why', (key, body, reason) => {
    expect(check(key, body)).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });

  it('refuses a file compressed twice, naming it so rather than as text that is not UTF-8', () => {
    const twice = gzipSync(gzipSync('x,y\n1,2'));
    expect(check('a.csv.gz', twice, gzipSync('x,y\n1,2'))).toEqual({
      ok: false,
      reason: 'gzip-compressed twice',
    });
  });

  it('refuses a format the pipeline does not accept', () => {
    expect(checkFormat('a.parquet', text('PAR1'), text('PAR1'), ['csv'])).toEqual({
      ok: false,
      reason: 'parquet files are not accepted by this pipeline (input.formats: csv)',
    });
  });
});
