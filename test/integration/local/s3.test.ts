import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3EventRecord } from 'aws-lambda';
import { decodeEventKey, type RunningS3, startS3 } from '../../../local/s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localS3Config } from '../../../local/types';

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-s3-'));
let s3: RunningS3;
let client: S3Client;

const clientFor = (url: string) => new S3Client(localS3Config(url));

/** The next record the emulator reports for `key`. */
const nextRecord = (key: string): Promise<S3EventRecord> =>
  new Promise((resolve) => {
    const listener = (record: S3EventRecord) => {
      if (decodeEventKey(record.s3.object.key) !== key) return;
      s3.events.off('record', listener);
      resolve(record);
    };
    s3.events.on('record', listener);
  });

beforeAll(async () => {
  s3 = await startS3({ port: 0, dataDir });
  client = clientFor(s3.url);
  await client.send(new CreateBucketCommand({ Bucket: 'mlpipe-local-raw' }));
});
afterAll(async () => {
  client.destroy();
  await s3.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the local S3', () => {
  it('reports a put as AWS does: URL-encoded key, bucket ARN, event name, size and ETag', async () => {
    const key = 'incoming/penguins/my file (1)+2.csv';
    const record = nextRecord(key);
    const put = await client.send(
      new PutObjectCommand({ Bucket: 'mlpipe-local-raw', Key: key, Body: 'a,b\n1,2\n' }),
    );
    const event = await record;
    expect(event.eventName).toBe('ObjectCreated:Put');
    expect(event.s3.object.key).toBe('incoming/penguins/my+file+%281%29%2B2.csv');
    expect(event.s3.bucket.arn).toBe('arn:aws:s3:::mlpipe-local-raw');
    expect(event.s3.object.size).toBe(8);
    expect(`"${event.s3.object.eTag}"`).toBe(put.ETag);
  });

  it('stores objects byte for byte (no aws-chunked framing) and pages listings by MaxKeys', async () => {
    for (const n of [1, 2, 3]) {
      await client.send(
        new PutObjectCommand({ Bucket: 'mlpipe-local-raw', Key: `paged/${n}.txt`, Body: `object ${n}` }),
      );
    }
    const got = await client.send(new GetObjectCommand({ Bucket: 'mlpipe-local-raw', Key: 'paged/2.txt' }));
    expect(await got.Body?.transformToString()).toBe('object 2');
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: 'mlpipe-local-raw',
          Prefix: 'paged/',
          MaxKeys: 1,
          ContinuationToken: token,
        }),
      );
      keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys).toEqual(['paged/1.txt', 'paged/2.txt', 'paged/3.txt']);
  });

  it('reports a completed multipart upload as ObjectCreated:CompleteMultipartUpload', async () => {
    const key = 'incoming/flights/big.csv';
    const record = nextRecord(key);
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: 'mlpipe-local-raw', Key: key }),
    );
    const part = await client.send(
      new UploadPartCommand({
        Bucket: 'mlpipe-local-raw',
        Key: key,
        UploadId,
        PartNumber: 1,
        Body: 'x,y\n1,2\n',
      }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'mlpipe-local-raw',
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect((await record).eventName).toBe('ObjectCreated:CompleteMultipartUpload');
  });

  it('writes conditionally as S3 does: If-None-Match only where there is none, If-Match only over that version', async () => {
    const at = { Bucket: 'mlpipe-local-raw', Key: 'deployments/conditional/live.json' };
    const put = (body: string, condition: { IfMatch?: string; IfNoneMatch?: string }) =>
      client.send(new PutObjectCommand({ ...at, Body: body, ...condition })).then(
        (r) => ({ etag: r.ETag }),
        (e: Error & { $metadata?: { httpStatusCode?: number } }) => ({
          error: e.name,
          status: e.$metadata?.httpStatusCode,
        }),
      );
    expect(await put('{"v":0}', { IfMatch: '"0123"' })).toEqual({ error: 'NoSuchKey', status: 404 });
    const first = await put('{"v":1}', { IfNoneMatch: '*' });
    expect(first).toEqual({ etag: expect.any(String) });
    expect(await put('{"v":2}', { IfNoneMatch: '*' })).toEqual({ error: 'PreconditionFailed', status: 412 });
    const second = await put('{"v":2}', { IfMatch: (first as { etag: string }).etag });
    expect(second).toEqual({ etag: expect.any(String) });
    expect(await put('{"v":3}', { IfMatch: (first as { etag: string }).etag })).toEqual({
      error: 'PreconditionFailed',
      status: 412,
    });
    // Writers that read the same version race: exactly one wins, the others are told.
    const etag = (second as { etag: string }).etag;
    const raced = await Promise.all([4, 5, 6, 7].map((v) => put(`{"v":${v}}`, { IfMatch: etag })));
    expect(raced.filter((r) => 'etag' in r)).toHaveLength(1);
    expect(raced.filter((r) => 'error' in r)).toEqual([
      { error: 'PreconditionFailed', status: 412 },
      { error: 'PreconditionFailed', status: 412 },
      { error: 'PreconditionFailed', status: 412 },
    ]);
    const got = await client.send(new GetObjectCommand(at));
    expect(got.ETag).toBe((raced.find((r) => 'etag' in r) as { etag: string }).etag);
  });

  it('takes files from the real AWS CLI', async () => {
    const file = join(dataDir, 'upload.csv');
    writeFileSync(file, 'x\n1\n');
    const record = nextRecord('incoming/cli/upload.csv');
    await run(
      '/usr/bin/aws',
      ['--endpoint-url', s3.url, 's3', 'cp', file, 's3://mlpipe-local-raw/incoming/cli/upload.csv'],
      {
        env: {
          PATH: process.env.PATH,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          AWS_DEFAULT_REGION: LOCAL_REGION,
          AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
          AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
        },
      },
    );
    expect((await record).s3.object.size).toBe(4);
  });

  it('keeps every object across a restart', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: 'mlpipe-local-raw', Key: 'kept.txt', Body: 'still here' }),
    );
    await s3.stop();
    s3 = await startS3({ port: 0, dataDir });
    client.destroy();
    client = clientFor(s3.url);
    const got = await client.send(new GetObjectCommand({ Bucket: 'mlpipe-local-raw', Key: 'kept.txt' }));
    expect(await got.Body?.transformToString()).toBe('still here');
  });
});
