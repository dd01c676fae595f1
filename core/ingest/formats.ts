import type { InputFormat } from '../spec/schema';

/**
 * What kind of file an object is: from its extension, checked against its first bytes. A mismatch
 * (a `.csv` that is gzip, a `.parquet` that is text) is an error, never a guess.
 */
export interface DetectedFormat {
  readonly format: InputFormat;
  readonly gzip: boolean;
}

export type FormatCheck =
  | { readonly ok: true; readonly detected: DetectedFormat }
  | { readonly ok: false; readonly reason: string };

const EXTENSIONS: Record<string, InputFormat> = {
  csv: 'csv',
  tsv: 'csv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'json',
  parquet: 'parquet',
};

const GZIP = [0x1f, 0x8b];
const PARQUET = [0x50, 0x41, 0x52, 0x31]; // PAR1

const startsWith = (head: Uint8Array, magic: readonly number[]) => magic.every((b, i) => head[i] === b);

/** The first non-blank character of (possibly decompressed) text. */
const firstCharacter = (text: Uint8Array): string => {
  for (const byte of text) {
    if (byte === 0xef || byte === 0xbb || byte === 0xbf) continue; // a UTF-8 byte order mark
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return String.fromCharCode(byte);
  }
  return '';
};

/** What a key's name says it is (`format` undefined for an unknown extension); the bytes may disagree. */
export const formatOfKey = (key: string): { format?: InputFormat; gzip: boolean; extension: string } => {
  // The file's own name: a folder of the key may hold a dot ("incoming/v1.2/data").
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase();
  const gzip = name.endsWith('.gz');
  const base = gzip ? name.slice(0, -3) : name;
  const dot = base.lastIndexOf('.');
  const extension = dot < 0 ? '' : base.slice(dot + 1);
  const format = dot < 0 ? undefined : EXTENSIONS[extension];
  return { ...(format ? { format } : {}), gzip, extension };
};

/**
 * `head` is the object's first bytes; `textHead` the first bytes of its text after gunzip (the
 * same as `head` when it is not compressed).
 */
export const checkFormat = (
  key: string,
  head: Uint8Array,
  textHead: Uint8Array,
  allowed: readonly InputFormat[],
): FormatCheck => {
  const { format, gzip, extension } = formatOfKey(key);
  if (!format) {
    return {
      ok: false,
      reason: `${extension === '' ? 'no file type in its name' : `unknown file type ".${extension}"`}: expected .csv, .jsonl, .json or .parquet, optionally .gz`,
    };
  }
  if (!allowed.includes(format))
    return {
      ok: false,
      reason: `${format} files are not accepted by this pipeline (input.formats: ${allowed.join(', ')})`,
    };
  if (format === 'parquet' && gzip)
    return { ok: false, reason: 'Parquet files are compressed inside; .parquet.gz is not accepted' };
  if (head.length === 0) return { ok: false, reason: 'empty file' };
  if (gzip !== startsWith(head, GZIP)) {
    return {
      ok: false,
      reason: gzip ? 'named .gz but not gzip-compressed' : 'gzip-compressed but not named .gz',
    };
  }
  if (gzip && startsWith(textHead, GZIP)) return { ok: false, reason: 'gzip-compressed twice' };
  if (format === 'parquet') {
    return startsWith(head, PARQUET)
      ? { ok: true, detected: { format, gzip } }
      : { ok: false, reason: 'named .parquet but not a Parquet file' };
  }
  if (startsWith(textHead, PARQUET)) return { ok: false, reason: `a Parquet file named .${extension}` };
  const first = firstCharacter(textHead);
  if (first === '') return { ok: false, reason: 'empty file' };
  if (format === 'json' && first !== '[')
    return { ok: false, reason: `named .json but does not hold a JSON array (starts with "${first}")` };
  if (format === 'jsonl' && first !== '{')
    return {
      ok: false,
      reason: `named .${extension} but its first line is not a JSON object (starts with "${first}")`,
    };
  if (format === 'csv' && (first === '{' || first === '['))
    return { ok: false, reason: `named .${extension} but holds JSON` };
  return { ok: true, detected: { format, gzip } };
};
