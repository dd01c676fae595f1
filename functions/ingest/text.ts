import { createReadStream } from 'node:fs';

/**
 * Checks a text file before any parser sees it: valid UTF-8 throughout, and no line over the limit
 * (a runaway line would otherwise be buffered whole). Streams, so memory stays flat.
 */
export type TextCheck =
  | { readonly ok: true; readonly lines: number }
  | { readonly ok: false; readonly reason: string };

export const checkText = async (
  file: string,
  maxLineBytes: number,
  checkLines: boolean,
): Promise<TextCheck> => {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let lineBytes = 0;
  let offset = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    try {
      decoder.decode(chunk, { stream: true });
    } catch {
      return { ok: false, reason: `not valid UTF-8 (in line ${line}, near byte ${offset})` };
    }
    if (checkLines) {
      let start = 0;
      for (;;) {
        const newline = chunk.indexOf(0x0a, start);
        const end = newline < 0 ? chunk.length : newline;
        lineBytes += end - start;
        if (lineBytes > maxLineBytes)
          return { ok: false, reason: `line ${line} is longer than the limit of ${maxLineBytes} bytes` };
        if (newline < 0) break;
        line += 1;
        lineBytes = 0;
        start = newline + 1;
      }
    }
    offset += chunk.length;
  }
  try {
    decoder.decode();
  } catch {
    return { ok: false, reason: 'not valid UTF-8 (the file ends inside a character)' };
  }
  return { ok: true, lines: line };
};
