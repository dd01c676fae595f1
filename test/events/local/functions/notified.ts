import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';

/**
 * A test function for S3 notifications: records each event it receives as an object under seen/,
 * through a plain SDK client that finds the local cloud by the AWS_ENDPOINT_URL_S3 environment
 * variable alone, as the project's functions do.
 */
const s3 = new S3Client({});

export const handler = async (event: S3Event) => {
  for (const record of event.Records) {
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    await s3.send(
      new PutObjectCommand({
        Bucket: record.s3.bucket.name,
        Key: `seen/${key}.json`,
        Body: JSON.stringify(record),
      }),
    );
  }
  return { seen: event.Records.length };
};
