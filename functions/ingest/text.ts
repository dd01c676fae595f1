import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';

/**
 * Checks a text file before any parser sees it: valid UTF-8 throughout, and no line over the limit
 * (a runaway line would otherwise be buffered whole). It takes the bytes a chunk at a time, so it
 * runs while the object downloads, and memory stays flat.
 */
export type TextCheck =
  | { readonly ok: true; readonly lines: number }
  | { readonly ok: false; readonly reason: string };

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
  #line = 1;
  #lineBytes = 0;
  #offset = 0;
  #failure: string | undefined;

  constructor(
    private readonly maxLineBytes: number,
    private readonly checkLines: boolean,
  ) {}

  push(chunk: Uint8Array): void {
    if (this.#failure !== undefined) return;
    // isUtf8 (simdutf) checks a whole chunk without making a string: some 20 times faster than a
    // fatal TextDecoder, which decoded every byte of the file only to throw the text away.
    const joined = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    const end = unfinishedTail(joined);
    if (!isUtf8(joined.subarray(0, end))) {
      const at = firstInvalidByte(joined);
      const offset = `at byte offset ${this.#offset - this.#carry.length + at}`;
      // Lines are counted only where they are checked (not in a JSON array).
      const line = this.#line + joined.subarray(0, at).filter((byte) => byte === 0x0a).length;
      this.#failure = `not valid UTF-8 (${this.checkLines ? `in line ${line}, ` : ''}${offset})`;
      return;
    }
    this.#carry = Buffer.from(joined.subarray(end));
    if (this.checkLines) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let start = 0;
      for (;;) {
        const newline = bytes.indexOf(0x0a, start);
        const end = newline < 0 ? bytes.length : newline;
        this.#lineBytes += end - start;
        if (this.#lineBytes > this.maxLineBytes) {
          this.#failure = `line ${this.#line} is longer than the limit of ${this.maxLineBytes} bytes`;
          return;
        }
        if (newline < 0) break;
        this.#line += 1;
        this.#lineBytes = 0;
        start = newline + 1;
      }
    }
    this.#offset += chunk.byteLength;
  }

  end(): TextCheck {
    if (this.#failure === undefined && this.#carry.length > 0)
      this.#failure = 'not valid UTF-8 (the file ends inside a character)';
    return this.#failure === undefined
      ? { ok: true, lines: this.#line }
      : { ok: false, reason: this.#failure };
  }
}

export const checkText = async (
  file: string,
  maxLineBytes: number,
  checkLines: boolean,
): Promise<TextCheck> => {
  const checker = new TextChecker(maxLineBytes, checkLines);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    checker.push(chunk);
  }
  return checker.end();
};
