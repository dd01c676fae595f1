import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { selfCheckedObjectsClient } from '../../../functions/shared/s3';

/** The headers of the GetObject a client sends, answered at once with a small body. */
const getObjectHeaders = async (client: S3Client): Promise<Record<string, string>> => {
  let headers: Record<string, string> = {};
  client.config.requestHandler = {
    handle: async (request: { headers: Record<string, string> }) => {
      headers = request.headers;
      return {
        response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('{}')]) },
      };
    },
  } as never;
  const got = await client.send(
    new GetObjectCommand({ Bucket: 'artifacts', Key: 'deployments/p/live.json' }),
  );
  await got.Body?.transformToString();
  client.destroy();
  return headers;
};

const config = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
} as const;

describe('the S3 client of deployment records and model bundles', () => {
  it('asks S3 for no checksum of its own, which the SDK would compute again in JavaScript', async () => {
    expect(await getObjectHeaders(selfCheckedObjectsClient(config))).not.toHaveProperty(
      'x-amz-checksum-mode',
    );
    // What it leaves out: a client as the SDK makes it by default asks for the object's checksum.
    expect(
      await getObjectHeaders(new S3Client({ ...config, responseChecksumValidation: 'WHEN_SUPPORTED' })),
    ).toMatchObject({ 'x-amz-checksum-mode': 'ENABLED' });
  });
});
