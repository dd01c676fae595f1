import { createReadStream, createWriteStream, mkdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { forEachAtOnce } from './at-once';

/** The few S3 moves the pipeline functions share. Everything between steps is an S3 pointer. */
export interface S3Pointer {
  readonly bucket: string;
  readonly key: string;
}

/**
 * A client for objects checked another way once read, which asks S3 for no checksum of its own: a
 * model bundle is checked by gzip's CRC-32 and its manifest's SHA-256 of model.onnx, a deployment
 * record by its schema. S3 keeps a CRC64-NVME of every object written without one, and the SDK by
 * default asks for it and computes it again in JavaScript: 7-13 ms for the first 640 KB bundle, once
 * per cold start of the inference image (`@aws-sdk/checksums`' Crc64NvmeJs, node 20 and 24).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 */
export const selfCheckedObjectsClient = (config: S3ClientConfig = {}): S3Client =>
  new S3Client({ ...config, responseChecksumValidation: 'WHEN_REQUIRED' });

export const parseS3Uri = (uri: string): S3Pointer => {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m?.[1]) throw new RangeError(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] ?? '' };
};

export const isNoSuchKey = (error: unknown): boolean =>
  error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey' || (error as Error).name === 'NotFound';

/** The object's text and ETag (unquoted), or undefined when it does not exist. */
export const getTextVersion = async (
  s3: S3Client,
  at: S3Pointer,
): Promise<{ text: string; etag: string } | undefined> => {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key }));
    const text = await (got.Body as { transformToString(): Promise<string> }).transformToString();
    return { text, etag: unquoted(got.ETag) ?? '' };
  } catch (error) {
    if (isNoSuchKey(error)) return undefined;
    throw error;
  }
};

/** The object's text, or undefined when it does not exist. */
export const getText = async (s3: S3Client, at: S3Pointer): Promise<string | undefined> =>
  (await getTextVersion(s3, at))?.text;

/**
 * Writes JSON; with `over`, only over the version read (its ETag) or, with null, only where there
 * was none. A write that lost a race fails with isLostRace true.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
export const putJson = async (
  s3: S3Client,
  at: S3Pointer,
  value: unknown,
  { over }: { over?: string | null } = {},
): Promise<void> => {
  await s3.send(
    new PutObjectCommand({
      Bucket: at.bucket,
      Key: at.key,
      Body: `${JSON.stringify(value, null, 2)}\n`,
      ContentType: 'application/json',
      ...(over === undefined ? {} : over === null ? { IfNoneMatch: '*' } : { IfMatch: `"${over}"` }),
    }),
  );
};

/**
 * A conditional write that another writer got in before: the object changed (412), appeared (412),
 * went away (404 to If-Match) or was being written at the same moment (409).
 */
export const isLostRace = (error: unknown): boolean =>
  ['PreconditionFailed', 'ConditionalRequestConflict', 'NoSuchKey'].includes((error as Error).name) ||
  [409, 412].includes((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0);

/**
 * A failure another attempt can mend: the connection dropped (a server closing an idle keep-alive
 * connection just as the client reuses it: "socket hang up"), or S3 answered 5xx or throttled.
 */
const isTransient = (error: unknown): boolean => {
  const { name, code, $retryable, $metadata } = error as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  return (
    $retryable !== undefined ||
    ['TimeoutError', 'RequestTimeout', 'SlowDown', 'InternalError'].includes(name ?? '') ||
    ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code ?? '') ||
    ($metadata?.httpStatusCode ?? 0) >= 500
  );
};

const PUT_FILE_ATTEMPTS = 3;

/**
 * Uploads a file streamed from disk (its length given, as S3 needs for a stream body). A stream is
 * read once, so the SDK cannot send it again after a transient failure; each attempt here opens
 * the file anew. A PutObject of the same bytes to the same key may be repeated.
 */
export const putFile = async (s3: S3Client, at: S3Pointer, file: string): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: at.bucket,
          Key: at.key,
          Body: createReadStream(file),
          ContentLength: statSync(file).size,
        }),
      );
      return;
    } catch (error) {
      if (attempt >= PUT_FILE_ATTEMPTS || !isTransient(error)) throw error;
    }
  }
};

export const listKeys = async (s3: S3Client, bucket: string, prefix: string): Promise<string[]> => {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key && !o.Key.endsWith('/')) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
};

/** The version of an object asked for is no longer the one S3 holds. */
export class ObjectChangedError extends Error {
  override name = 'ObjectChangedError';
}

/** S3 quotes an ETag in headers and answers; its events do not. */
export const unquoted = <T extends string | undefined>(etag: T): T => etag?.replace(/"/g, '') as T;

/**
 * GetObject of one version (when `etag` is given: If-Match, and the answer's ETag checked, since not
 * every S3 enforces If-Match), optionally of a byte range. A refused body is released.
 */
const getVersion = async (
  s3: S3Client,
  at: S3Pointer & { readonly etag?: string },
  range?: string,
  signal?: AbortSignal,
): Promise<Readable> => {
  const etag = unquoted(at.etag);
  const got = await s3.send(
    new GetObjectCommand({
      Bucket: at.bucket,
      Key: at.key,
      ...(range === undefined ? {} : { Range: range }),
      ...(etag === undefined ? {} : { IfMatch: `"${etag}"` }),
    }),
    signal && { abortSignal: signal },
  );
  const body = got.Body as Readable;
  if (etag !== undefined && unquoted(got.ETag) !== etag) {
    body.destroy();
    throw new ObjectChangedError(
      `s3://${at.bucket}/${at.key} is no longer the version asked for (ETag ${etag}, now ${unquoted(got.ETag)})`,
    );
  }
  return body;
};

/** With an `etag`, only that version is read. `signal` stops the download. */
export const downloadTo = async (
  s3: S3Client,
  at: S3Pointer & { readonly etag?: string },
  file: string,
  signal?: AbortSignal,
): Promise<string> => {
  mkdirSync(dirname(file), { recursive: true });
  const body = await getVersion(s3, at, undefined, signal);
  await pipeline(body, createWriteStream(file), ...(signal ? [{ signal }] : []));
  return file;
};

/** An object's size and ETag (unquoted), without its body. */
export const headObject = async (s3: S3Client, at: S3Pointer): Promise<{ size: number; etag: string }> => {
  const head = await s3.send(new HeadObjectCommand({ Bucket: at.bucket, Key: at.key }));
  return { size: head.ContentLength ?? 0, etag: unquoted(head.ETag) ?? '' };
};

/**
 * One S3 connection delivers on the order of 100 MB/s, so a big object is read as byte ranges of
 * 16 MiB, several at once, as AWS recommends 8 or 16 (https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/use-byte-range-fetches.html).
 * flights' 101 MB from the local S3: 180 ms in ranges of 16 MiB, 197 in ranges of 8 (medians of 8).
 * Each range is written at its place in the file as it streams, so memory stays flat. Every range
 * must be of the version `etag` names (asked with If-Match, and checked on the answer): a file
 * pieced together from two versions would be neither.
 */
export const RANGE_BYTES = 16 * 2 ** 20;
const RANGES_AT_ONCE = 8;
/**
 * Each range is piped to its place in the file by a write stream of its own, which queues up to
 * 1 MiB while a write is under way and then writes the queue in one call (writev): flights from the
 * local S3 took ~190 ms so, against ~260 with each chunk awaited as it came (18 cold downloads each).
 */
const WRITE_BUFFER_BYTES = 2 ** 20;

export const downloadRanges = async (
  s3: S3Client,
  at: S3Pointer & { readonly size: number; readonly etag: string },
  file: string,
  {
    signal,
    rangeBytes = RANGE_BYTES,
    written,
  }: {
    readonly signal?: AbortSignal;
    readonly rangeBytes?: number;
    /** Told of each range once all its bytes are in the file: [start, end). */
    readonly written?: (start: number, end: number) => void;
  } = {},
): Promise<string> => {
  mkdirSync(dirname(file), { recursive: true });
  await (await open(file, 'w')).close();
  const starts = Array.from({ length: Math.ceil(at.size / rangeBytes) }, (_, i) => i * rangeBytes);
  // After a failure no range starts; it is thrown once the ranges under way are done with the file.
  await forEachAtOnce(starts, RANGES_AT_ONCE, async (start) => {
    const end = Math.min(at.size, start + rangeBytes) - 1;
    const body = await getVersion(s3, at, `bytes=${start}-${end}`, signal);
    const to = createWriteStream(file, { flags: 'r+', start, highWaterMark: WRITE_BUFFER_BYTES });
    await pipeline(body, to, ...(signal ? [{ signal }] : []));
    if (to.bytesWritten !== end + 1 - start)
      throw new ObjectChangedError(
        `s3://${at.bucket}/${at.key}: bytes ${start}-${end} came back as ${to.bytesWritten} bytes`,
      );
    written?.(start, end + 1);
  });
  return file;
};

/** Every object under a prefix into `dir` (flat, numbered): the files of a Parquet dataset. */
export const downloadPrefix = async (
  s3: S3Client,
  bucket: string,
  prefix: string,
  dir: string,
): Promise<string[]> => {
  const files: string[] = [];
  for (const [i, key] of (await listKeys(s3, bucket, prefix)).entries())
    files.push(await downloadTo(s3, { bucket, key }, join(dir, `part-${i}`)));
  return files;
};
