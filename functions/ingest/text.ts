import { isAscii, isUtf8 } from 'node:buffer';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { TextFacts } from '../../core/ingest';
import { readHead } from '../shared/files';

/**
 * Checks a text file before any parser sees it: valid UTF-8 throughout, and no line over the limit
 * (a runaway line would otherwise be buffered whole). It takes the bytes a chunk at a time, so
 * memory stays flat.
 */
export type TextCheck =
  | {
      readonly ok: true;
      /** Of a CSV file (one checked with its delimiter) only: what its values could hold. */
      readonly facts?: TextFacts;
    }
  | { readonly ok: false; readonly reason: string };

/** Which line of `file` holds byte `offset` (1-based): counted only for a file that failed. */
const lineAt = (file: string, offset: number): number => {
  const fd = openSync(file, 'r');
  const buffer = Buffer.alloc(1 << 20);
  let line = 1;
  try {
    for (let at = 0; at < offset; ) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, offset - at), at);
      if (read === 0) break;
      for (let i = buffer.indexOf(0x0a); i >= 0 && i < read; i = buffer.indexOf(0x0a, i + 1)) line += 1;
      at += read;
    }
  } finally {
    closeSync(fd);
  }
  return line;
};

type Failure = { readonly offset: number; readonly describe: (line: number | undefined) => string };

const UNDERSCORE = 0x5f;
const DOT = 0x2e;
const MINUS = 0x2d;
const EXPONENTS = [0x65, 0x45];
/** Tab, vertical tab, form feed, carriage return, and the quote, inside which a value may hold a line break. */
const SUSPECT_ASCII = [0x09, 0x0b, 0x0c, 0x0d, 0x22];

/**
 * Where a chunk's unfinished last character starts (its bytes wait for the next chunk), or the
 * chunk's length when it ends on a character boundary. Only a well-formed lead byte (C2–F4) is
 * waited for; anything else is left for isUtf8 to reject.
 */
const unfinishedTail = (bytes: Uint8Array): number => {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 3); i--) {
    const byte = bytes[i] as number;
    if ((byte & 0xc0) === 0x80) continue;
    if (byte < 0xc2 || byte > 0xf4) return bytes.length;
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return i + size > bytes.length ? i : bytes.length;
  }
  return bytes.length;
};

const validPrefix = (bytes: Uint8Array, length: number): boolean => {
  const prefix = bytes.subarray(0, length);
  return isUtf8(prefix.subarray(0, unfinishedTail(prefix)));
};

/** Excel's "Unicode text" and PowerShell 5 write UTF-16, which starts with its byte order mark. */
const startsAsUtf16 = (file: string): boolean => {
  const [first, second] = readHead(file, 2);
  return (first === 0xff && second === 0xfe) || (first === 0xfe && second === 0xff);
};

/** Only when a chunk failed: a binary search for the byte that makes it invalid, to name its line. */
const firstInvalidByte = (bytes: Uint8Array): number => {
  let valid = 0;
  let invalid = bytes.length;
  while (invalid - valid > 1) {
    const middle = (valid + invalid) >>> 1;
    if (validPrefix(bytes, middle)) valid = middle;
    else invalid = middle;
  }
  return invalid - 1;
};

export class TextChecker {
  /** The first bytes of a character the last chunk cut, at most 3. */
  #carry: Buffer = Buffer.alloc(0);
  /** Where the line being read starts, in bytes from the start of the file. */
  #lineStart = 0;
  #offset = 0;
  #failure: Failure | undefined;
  #underscore = false;
  #otherWhitespace = false;
  #fractions = false;
  /** The last chunk ended with `e` or `E`, which a `-` at the start of this one makes an exponent. */
  #exponentOpen = false;
  /** The characters that make a CSV file's values suspect; undefined for other formats. */
  readonly #suspects: readonly number[] | undefined;

  /**
   * `file`: where the bytes checked are (or will be once all are pushed), read again only to name
   * the line of a failure. `delimiter`: a CSV file's (which no unquoted value holds), to learn what
   * its values could hold; other formats have none, and pay for no such search.
   */
  constructor(
    private readonly file: string,
    private readonly maxLineBytes: number,
    private readonly checkLines: boolean,
    delimiter?: string,
  ) {
    this.#suspects =
      delimiter === undefined
        ? undefined
        : SUSPECT_ASCII.filter((byte) => delimiter !== String.fromCharCode(byte));
  }

  /**
   * Which of validation's checks a value of this file could fail (core/ingest/validate-sql's
   * TextFacts): each byte looked for is one pass of memchr over a chunk, and only until found.
   */
  #learn(bytes: Buffer, suspects: readonly number[]): void {
    if (!this.#underscore) this.#underscore = bytes.includes(UNDERSCORE);
    if (!this.#otherWhitespace)
      this.#otherWhitespace = !isAscii(bytes) || suspects.some((byte) => bytes.includes(byte));
    if (!this.#fractions)
      this.#fractions =
        bytes.includes(DOT) ||
        bytes.includes('e-') ||
        bytes.includes('E-') ||
        (this.#exponentOpen && bytes[0] === MINUS);
    this.#exponentOpen = bytes.length > 0 && EXPONENTS.includes(bytes[bytes.length - 1] as number);
  }

  push(chunk: Uint8Array): void {
    if (this.#failure !== undefined) return;
    // isUtf8 (simdutf) checks a whole chunk without making a string: some 20 times faster than a
    // fatal TextDecoder, which decoded every byte of the file only to throw the text away.
    const joined = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    const end = unfinishedTail(joined);
    if (!isUtf8(joined.subarray(0, end))) {
      const offset = this.#offset - this.#carry.length + firstInvalidByte(joined);
      this.#failure = {
        offset,
        describe: (line) =>
          offset === 0 && startsAsUtf16(this.file)
            ? 'not valid UTF-8: the file is UTF-16 (it starts with its byte order mark); save it as UTF-8'
            : `not valid UTF-8 (${line ? `in line ${line}, ` : ''}at byte offset ${offset})`,
      };
      return;
    }
    this.#carry = Buffer.from(joined.subarray(end));
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#suspects) this.#learn(bytes, this.#suspects);
    const base = this.#offset;
    this.#offset += chunk.byteLength;
    if (this.checkLines) this.#checkLines(bytes, base);
  }

  /**
   * Whether each line of the chunk ends within the limit, without visiting every line: a line
   * starting at `s` is short enough when a newline lies in [s, s + limit], so the search goes back
   * from s + limit to the nearest newline, and on from there: a couple of searches a chunk instead
   * of one per line (flights: 3 M lines, 25 ms).
   */
  #checkLines(bytes: Buffer, base: number): void {
    while (bytes.length > 0) {
      const lastAllowed = this.#lineStart + this.maxLineBytes - base;
      const newline = lastAllowed < 0 ? -1 : bytes.lastIndexOf(0x0a, Math.min(lastAllowed, bytes.length - 1));
      if (newline >= 0 && base + newline >= this.#lineStart) this.#lineStart = base + newline + 1;
      else if (lastAllowed < bytes.length) {
        this.#longLine();
        return;
      }
      // Past the chunk's end, the line still open may end in a later chunk.
      if (lastAllowed >= bytes.length) return;
    }
  }

  #longLine(): void {
    const limit = this.maxLineBytes;
    this.#failure = {
      offset: this.#lineStart,
      describe: (line) => `line ${line} is longer than the limit of ${limit} bytes`,
    };
  }

  end(): TextCheck {
    if (this.#failure === undefined && this.checkLines && this.#offset - this.#lineStart > this.maxLineBytes)
      this.#longLine();
    if (this.#failure === undefined && this.#carry.length > 0)
      return { ok: false, reason: 'not valid UTF-8 (the file ends inside a character)' };
    if (this.#failure !== undefined) {
      // Lines are counted only where they are checked (not in a JSON array).
      const line = this.checkLines ? lineAt(this.file, this.#failure.offset) : undefined;
      return { ok: false, reason: this.#failure.describe(line) };
    }
    return {
      ok: true,
      ...(this.#suspects && {
        facts: {
          underscore: this.#underscore,
          otherWhitespace: this.#otherWhitespace,
          fractions: this.#fractions,
        },
      }),
    };
  }
}

/**
 * A checker fed the ranges of `file` in file order as each is written, whatever order they are
 * written in (a ranged download): a range waits for those before it. So the check runs during the
 * download, and is done moments after it.
 */
export const checkInFileOrder = (
  file: string,
  checker: TextChecker,
): { readonly written: (start: number, end: number) => void; readonly end: () => TextCheck } => {
  const ends = new Map<number, number>();
  let next = 0;
  const buffer = Buffer.allocUnsafe(1 << 20);
  return {
    written: (start, end) => {
      ends.set(start, end);
      let until = ends.get(next);
      if (until === undefined) return;
      const fd = openSync(file, 'r');
      try {
        for (; until !== undefined; until = ends.get(next)) {
          ends.delete(next);
          // The chunks go to the checker as it consumes them, before the buffer is read into again.
          for (let at = next; at < until; ) {
            const read = readSync(fd, buffer, 0, Math.min(buffer.length, until - at), at);
            if (read === 0) break;
            checker.push(buffer.subarray(0, read));
            at += read;
          }
          next = until;
        }
      } finally {
        closeSync(fd);
      }
    },
    end: () => checker.end(),
  };
};

export const checkText = async (
  file: string,
  maxLineBytes: number,
  checkLines: boolean,
  delimiter?: string,
): Promise<TextCheck> => {
  const checker = new TextChecker(file, maxLineBytes, checkLines, delimiter);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    checker.push(chunk);
  }
  return checker.end();
};
