import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { downloadRanges, downloadTo, headObject, ObjectChangedError } from '../../../functions/shared/s3';
import { type RunningS3, startS3 } from '../../../local/s3';
import { localS3Config } from '../../../local/types';

const dir = mkdtempSync(join(tmpdir(), 'mlpipe-ranges-'));
let server: RunningS3;
let s3: S3Client;
const object = { bucket: 'mlpipe-ranges', key: 'incoming/penguins/big.csv' };
// Not a multiple of any range size, so the last range is short.
const body = randomBytes(3 * 2 ** 20 + 12_345);

beforeAll(async () => {
  server = await startS3({ port: 0, dataDir: join(dir, 's3') });
  s3 = new S3Client(localS3Config(server.url));
  await s3.send(new CreateBucketCommand({ Bucket: object.bucket }));
  await s3.send(new PutObjectCommand({ Bucket: object.bucket, Key: object.key, Body: body }));
});
afterAll(async () => {
  s3.destroy();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('downloading an object version', () => {
  it('writes every byte in its place, whatever the range size', async () => {
    const head = await headObject(s3, object);
    expect(head.size).toBe(body.length);
    for (const rangeBytes of [256 * 2 ** 10, 2 ** 20 + 1, 64 * 2 ** 20]) {
      const file = join(dir, `out-${rangeBytes}`);
      await downloadRanges(s3, { ...object, ...head }, file, { rangeBytes });
      expect(readFileSync(file).equals(body)).toBe(true);
    }
  });

  it('reads the version asked for in one stream, and refuses another', async () => {
    const { etag } = await headObject(s3, object);
    const file = join(dir, 'whole');
    // As S3 events give it, and as S3's headers quote it.
    for (const asked of [etag, `"${etag}"`]) {
      await downloadTo(s3, { ...object, etag: asked }, file);
      expect(readFileSync(file).equals(body)).toBe(true);
    }
    await expect(
      downloadTo(s3, { ...object, etag: '0123456789abcdef0123456789abcdef' }, join(dir, 'y')),
    ).rejects.toBeInstanceOf(ObjectChangedError);
  });

  it('refuses to piece together ranges of another version than the one asked for', async () => {
    const { size } = await headObject(s3, object);
    await expect(
      downloadRanges(s3, { ...object, size, etag: '0123456789abcdef0123456789abcdef' }, join(dir, 'x'), {
        rangeBytes: 2 ** 20,
      }),
    ).rejects.toBeInstanceOf(ObjectChangedError);
  });

  it('stops when told to, whole or in ranges', async () => {
    const head = await headObject(s3, object);
    const whole = new AbortController();
    const wholeDownload = downloadTo(s3, { ...object, etag: head.etag }, join(dir, 'a'), whole.signal);
    whole.abort();
    await expect(wholeDownload).rejects.toMatchObject({ name: 'AbortError' });
    const ranged = new AbortController();
    const rangedDownload = downloadRanges(s3, { ...object, ...head }, join(dir, 'b'), {
      signal: ranged.signal,
      rangeBytes: 256 * 2 ** 10,
    });
    ranged.abort();
    await expect(rangedDownload).rejects.toMatchObject({ name: 'AbortError' });
  });
});
