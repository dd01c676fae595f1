import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { putFile } from '../../../functions/shared/s3';

// The local S3 cannot be made to drop a connection on cue: these failures are mocked.
const dir = mkdtempSync(join(tmpdir(), 'mlpipe-put-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'part-00000.parquet');
const bytes = Buffer.from('PAR1 the bytes of a curated part PAR1');
writeFileSync(file, bytes);

const s3 = new S3Client({ region: 'us-east-1' });
const s3Mock = mockClient(s3);
afterEach(() => s3Mock.reset());

const readAll = async (body: PutObjectCommandInput['Body']) => {
  const chunks: Buffer[] = [];
  for await (const chunk of body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};
const failure = (name: string, status?: number) =>
  Object.assign(new Error(name === 'TimeoutError' ? 'socket hang up' : name), {
    name,
    ...(status && { $metadata: { httpStatusCode: status } }),
  });

/** putFile against answers given in turn: each an error to throw, or undefined to succeed. */
const putWith = async (answers: (Error | undefined)[]) => {
  const bodies: Buffer[] = [];
  s3Mock.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
    bodies.push(await readAll(input.Body));
    const answer = answers[bodies.length - 1];
    if (answer) throw answer;
    return {};
  });
  const outcome = await putFile(s3, { bucket: 'curated', key: 'a/part-00000.parquet' }, file).then(
    () => 'uploaded',
    (error: Error) => error.name,
  );
  return { outcome, bodies };
};

describe('putFile', () => {
  it('sends the whole file again, read anew, after a dropped connection or a 5xx', async () => {
    const { outcome, bodies } = await putWith([failure('TimeoutError'), failure('InternalError', 500)]);
    expect(outcome).toBe('uploaded');
    expect(bodies).toEqual([bytes, bytes, bytes]);
  });

  it('gives up after three attempts, and at once on a failure no attempt mends', async () => {
    const dropped = await putWith([
      failure('TimeoutError'),
      failure('TimeoutError'),
      failure('TimeoutError'),
    ]);
    expect(dropped).toEqual({ outcome: 'TimeoutError', bodies: [bytes, bytes, bytes] });
    const denied = await putWith([failure('AccessDenied', 403)]);
    expect(denied).toEqual({ outcome: 'AccessDenied', bodies: [bytes] });
  });
});
