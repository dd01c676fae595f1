import { createReadStream } from 'node:fs';

/**
 * Checks a text file before any parser sees it: valid UTF-8 throughout, and no line over the limit
 * (a runaway line would otherwise be buffered whole). It takes the bytes a chunk at a time, so it
 * runs while the object downloads, and memory stays flat.
 */
export type TextCheck =
  | { readonly ok: true; readonly lines: number }
  | { readonly ok: false; readonly reason: string };

export class TextChecker {
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
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
    try {
      this.#decoder.decode(chunk, { stream: true });
    } catch {
      this.#failure = `not valid UTF-8 (in line ${this.#line}, near byte ${this.#offset})`;
      return;
    }
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
    if (this.#failure === undefined) {
      try {
        this.#decoder.decode();
      } catch {
        this.#failure = 'not valid UTF-8 (the file ends inside a character)';
      }
    }
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
