import { once } from 'node:events';
import { closeSync, createReadStream, createWriteStream, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/**
 * A downloaded object as text a reader can open: gunzipped when its name ends in `.gz` and its
 * bytes say gzip, with the first bytes of both for the format check (core/ingest/formats).
 */
export class CorruptGzipError extends Error {
  override name = 'CorruptGzipError';
}

/** Appends text to a file, waiting when the stream asks to, so a large file never piles up in memory. */
export const textWriter = (file: string) => {
  const out = createWriteStream(file);
  return {
    write: async (text: string) => {
      if (text && !out.write(text)) await once(out, 'drain');
    },
    end: async () => {
      out.end();
      await once(out, 'close');
    },
  };
};

export const readHead = (file: string, bytes = 65536): Uint8Array => {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
};

export interface PlainFile {
  /** The file to read: the original, or its gunzipped copy. */
  readonly plain: string;
  readonly head: Uint8Array;
  readonly textHead: Uint8Array;
}

export const plainFile = async (original: string, key: string, scratch: string): Promise<PlainFile> => {
  const head = readHead(original);
  if (!(head[0] === 0x1f && head[1] === 0x8b && key.toLowerCase().endsWith('.gz')))
    return { plain: original, head, textHead: head };
  const plain = join(scratch, 'plain');
  try {
    await pipeline(createReadStream(original), createGunzip(), createWriteStream(plain));
  } catch (error) {
    throw new CorruptGzipError(`corrupt gzip: ${(error as Error).message}`, { cause: error });
  }
  return { plain, head, textHead: readHead(plain) };
};

/**
 * A UTF-8 byte order mark at the start of `file` overwritten with spaces, in place: DuckDB's JSON
 * reader takes the mark for text and fails the first line, where RFC 8259 lets a parser ignore it.
 * Whitespace before a JSON value changes nothing, and the file keeps its length, so every line
 * keeps its place. https://www.rfc-editor.org/rfc/rfc8259#section-8.1
 */
export const blankByteOrderMark = (file: string): void => {
  const head = readHead(file, 3);
  if (!(head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf)) return;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.from('   '), 0, 3, 0);
  } finally {
    closeSync(fd);
  }
};

/**
 * The first line of a CSV file that ends in \r\n and the first that ends in \n alone, outside
 * quotes (a cell of several lines, as Excel writes one, is no line ending), reading no further than
 * it must; undefined for a kind the file does not have.
 */
export const lineEndings = (file: string): { readonly crlf?: number; readonly lf?: number } => {
  const fd = openSync(file, 'r');
  const buffer = Buffer.alloc(2 ** 20);
  let quoted = false;
  let line = 1;
  let before = 0;
  let crlf: number | undefined;
  let lf: number | undefined;
  try {
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) {
      for (let i = 0; i < read; i++) {
        const byte = buffer[i];
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a && !quoted) {
          if (before === 0x0d) crlf ??= line;
          else lf ??= line;
          if (crlf !== undefined && lf !== undefined) return { crlf, lf };
          line++;
        }
        before = byte ?? 0;
      }
    }
  } finally {
    closeSync(fd);
  }
  return { ...(crlf !== undefined && { crlf }), ...(lf !== undefined && { lf }) };
};
