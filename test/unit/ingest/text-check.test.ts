import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInFileOrder, checkText, TextChecker } from '../../../functions/ingest/text';
import { lineEndings } from '../../../functions/shared/files';

const dir = mkdtempSync(join(tmpdir(), 'mlpipe-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
/** `bytes` in a file of their own: a checker reads the file again to name a failure's line. */
const fileOf = (bytes: Buffer) => {
  files += 1;
  const file = join(dir, `${files}.txt`);
  writeFileSync(file, bytes);
  return file;
};

/** The checker's verdict on `bytes` fed in chunks cut at `cuts`. */
const check = (bytes: Buffer, cuts: number[], maxLineBytes = 1_000) => {
  const checker = new TextChecker(fileOf(bytes), maxLineBytes, true, ',');
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    checker.push(bytes.subarray(from, cut));
    from = cut;
  }
  return checker.end();
};

describe('TextChecker', () => {
  const text = Buffer.from('name,city\nZoë,Tórshavn\n€uro,𝄞 clef\n', 'utf8');
  /** Characters beyond ASCII might be white space JavaScript trims: validation must look. */
  const notAscii = { underscore: false, otherWhitespace: true, fractions: false };

  it('tells which checks a value could fail from the bytes of the file, in whichever chunk they are', () => {
    const facts = (body: string, delimiter = ',') => {
      const bytes = Buffer.from(`a,b\n${body}\n`, 'utf8');
      const checker = new TextChecker(fileOf(bytes), 1_000, true, delimiter);
      checker.push(bytes.subarray(0, 4));
      checker.push(bytes.subarray(4));
      const result = checker.end();
      return result.ok ? result.facts : result.reason;
    };
    const none = { underscore: false, otherWhitespace: false, fractions: false };
    expect(facts('1, x y ')).toEqual(none);
    expect(facts('1_000,x')).toEqual({ ...none, underscore: true });
    for (const body of ['1,\tx', '1,x\r', '1,x\v', '1,x\f', '1,"x"', '1,\u00a0x', '1,Zoë'])
      expect({ body, facts: facts(body) }).toEqual({
        body,
        facts: { ...none, otherWhitespace: true },
      });
    // A tab that separates values is in no value.
    expect(facts('1\tx', '\t')).toEqual(none);
    // A fraction a whole number's reader would round: a point, or an exponent with a minus. A date's
    // minus, or an exponent without one, is none.
    for (const body of ['1.5,x', '1e-3,x', '2E-1,x', 'x,a.b'])
      expect({ body, facts: facts(body) }).toEqual({ body, facts: { ...none, fractions: true } });
    expect(facts('2001-01-01,1e3')).toEqual(none);
    // Checked without a delimiter (JSON), a file's bytes tell nothing of its values.
    const line = Buffer.from('{"a": "1_000"}\n');
    const json = new TextChecker(fileOf(line), 1_000, true);
    json.push(line);
    expect(json.end()).toEqual({ ok: true });
  });

  it('finds an exponent with a minus that two chunks cut between the e and the minus', () => {
    const bytes = Buffer.from('a,b\n1e-3,x\n', 'utf8');
    for (let cut = 0; cut <= bytes.length; cut++)
      expect({ cut, verdict: check(bytes, [cut]) }).toEqual({
        cut,
        verdict: { ok: true, facts: { underscore: false, otherWhitespace: false, fractions: true } },
      });
    // And a minus after a chunk that ends with a letter other than e is not one.
    const dashed = Buffer.from('a,b\n1,x-y\n', 'utf8');
    expect(check(dashed, [dashed.indexOf('-')])).toEqual({
      ok: true,
      facts: { underscore: false, otherWhitespace: false, fractions: false },
    });
  });

  it('accepts UTF-8 whatever byte a chunk ends on, even inside a character', () => {
    for (let cut = 0; cut <= text.length; cut++)
      expect(check(text, [cut])).toEqual({ ok: true, facts: notAscii });
    for (let cut = 1; cut + 1 < text.length; cut++)
      expect(check(text, [cut, cut + 1])).toEqual({ ok: true, facts: notAscii });
  });

  it('rejects bytes that are not UTF-8, naming the line and byte where they are, however the chunks fall', () => {
    const latin1 = Buffer.from('name,city\nAdelie,Tørgersen\n', 'latin1');
    const reason = 'not valid UTF-8 (in line 2, at byte offset 18)';
    for (const cuts of [[], [10], [18], [19], [5, 25]])
      expect(check(latin1, cuts)).toEqual({ ok: false, reason });
  });

  it('says a file is UTF-16 when it starts with a UTF-16 byte order mark', () => {
    const reason =
      'not valid UTF-8: the file is UTF-16 (it starts with its byte order mark); save it as UTF-8';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,city\r\n', 'utf16le')]);
    const be = Buffer.from(le.toString('utf16le'), 'utf16le').swap16();
    for (const bytes of [le, be])
      for (const cuts of [[], [1], [7]]) expect(check(bytes, cuts)).toEqual({ ok: false, reason });
  });

  it('names only the byte offset where lines are not counted (a JSON array)', () => {
    const parts = [Buffer.from('[{"island": "T', 'utf8'), Buffer.from('\u00f8rgersen"}]\n', 'latin1')];
    const checker = new TextChecker(fileOf(Buffer.concat(parts)), 1_000, false);
    for (const part of parts) checker.push(part);
    expect(checker.end()).toEqual({ ok: false, reason: 'not valid UTF-8 (at byte offset 14)' });
  });

  it('rejects a file that ends inside a character', () => {
    const cut = Buffer.from('name\n€', 'utf8').subarray(0, 6);
    expect(check(cut, [5])).toEqual({
      ok: false,
      reason: 'not valid UTF-8 (the file ends inside a character)',
    });
  });

  it('rejects a line over the limit, also when chunks cut it', () => {
    const long = Buffer.from(`a,b\n${'x'.repeat(30)}\nshort\n`);
    expect(check(long, [], 20)).toEqual({ ok: false, reason: 'line 2 is longer than the limit of 20 bytes' });
    expect(check(long, [10, 20, 30], 20)).toEqual({
      ok: false,
      reason: 'line 2 is longer than the limit of 20 bytes',
    });
    expect(check(long, [10, 20, 30], 30)).toEqual({
      ok: true,
      facts: { underscore: false, otherWhitespace: false, fractions: false },
    });
  });

  it('finds the first line over the limit wherever the chunks cut, and lets lines at the limit pass', () => {
    /** The first line (1-based) longer than `max` bytes before its newline, found line by line. */
    const firstLong = (bytes: Buffer, max: number) => {
      const lines = bytes.toString('latin1').split('\n');
      const i = lines.findIndex((line) => line.length > max);
      return i < 0 ? undefined : i + 1;
    };
    const max = 8;
    const files = [
      ['a', 'bbbbbbbb', 'cc', 'dddddddd', '', 'e'],
      ['aaaaaaaa', 'bbbbbbbbb', 'c'],
      ['a', 'b', 'cccccccc', 'ddddddddd'],
      ['a', 'b', 'cccccc\r', 'dddddddd\r', 'ee'],
    ].flatMap((lines) => [lines.join('\n'), `${lines.join('\n')}\n`]);
    for (const body of files) {
      const bytes = Buffer.from(body, 'latin1');
      const long = firstLong(bytes, max);
      const expected = long
        ? { ok: false, reason: `line ${long} is longer than the limit of ${max} bytes` }
        : { ok: true, facts: { underscore: false, otherWhitespace: body.includes('\r'), fractions: false } };
      for (let a = 0; a <= bytes.length; a++)
        for (let b = a; b <= bytes.length; b += 3)
          expect({ body, cuts: [a, b], verdict: check(bytes, [a, b], max) }).toEqual({
            body,
            cuts: [a, b],
            verdict: expected,
          });
    }
  });

  it('checks ranges written in any order in file order, as a check of the whole file would', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => `${i},${'x'.repeat(i % 37)}`);
    const good = Buffer.from(`a,b\n${lines.join('\n')}\n`);
    const notUtf8 = Buffer.concat([good.subarray(0, 2001), Buffer.from([0xff]), good.subarray(2002)]);
    const long = Buffer.from(`a,b\n${lines.slice(0, 300).join('\n')}\n${'y'.repeat(80)}\n`);
    for (const bytes of [good, notUtf8, long]) {
      const file = fileOf(bytes);
      const whole = await checkText(file, 64, true, ',');
      // Ranges of 500 bytes, written last first and then the rest in shuffled order.
      const starts = Array.from({ length: Math.ceil(bytes.length / 500) }, (_, i) => i * 500);
      const order = [
        ...starts.slice(-1),
        ...starts.slice(0, -1).sort((a, b) => ((a * 7919) % 13) - ((b * 7919) % 13)),
      ];
      const checking = checkInFileOrder(file, new TextChecker(file, 64, true, ','));
      for (const start of order) checking.written(start, Math.min(bytes.length, start + 500));
      expect(checking.end()).toEqual(whole);
    }
    expect(await checkText(fileOf(notUtf8), 64, true, ',')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/line \d+/),
    });
  });

  it('checks a file on disk the same way', async () => {
    writeFileSync(join(dir, 'ok.csv'), text);
    writeFileSync(join(dir, 'bad.csv'), Buffer.concat([text, Buffer.from([0xff, 0x0a])]));
    expect(await checkText(join(dir, 'ok.csv'), 1_000, true, ',')).toEqual({ ok: true, facts: notAscii });
    expect(await checkText(join(dir, 'bad.csv'), 1_000, true)).toEqual({
      ok: false,
      reason: `not valid UTF-8 (in line 4, at byte offset ${text.length})`,
    });
  });
});

describe('lineEndings', () => {
  it('finds the first line of each kind of ending, and no ending inside a quoted cell', () => {
    // Excel ends rows in \r\n and writes a cell of two lines with \n inside its quotes.
    const excel = fileOf(Buffer.from('a,b\r\n1,"two\nlines"\r\n3,4\r\n'));
    expect(lineEndings(excel)).toEqual({ crlf: 1 });
    const mixed = fileOf(Buffer.from('a,b\r\n1,"two\r\nlines"\n3,4\r\n5,6\n'));
    expect(lineEndings(mixed)).toEqual({ crlf: 1, lf: 2 });
    expect(lineEndings(fileOf(Buffer.from('a,b\n1,2')))).toEqual({ lf: 1 });
  });
});
