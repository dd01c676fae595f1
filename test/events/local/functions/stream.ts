import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';

/**
 * A test consumer of a Kinesis event source mapping. Each record is `{id, action}`: "ok" records are
 * written to processed/<id> (idempotently), "partial" ones are reported as batch item failures, and a
 * "throw" record fails the whole batch it is in.
 */
const s3 = new S3Client({});

export const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
  const decoded = event.Records.map((r) => ({
    sequence: r.kinesis.sequenceNumber,
    ...(JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString()) as { id: string; action: string }),
  }));
  const poison = decoded.find((d) => d.action === 'throw');
  if (poison) throw new Error(`poison record ${poison.id}`);
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const record of decoded) {
    if (record.action === 'partial') {
      batchItemFailures.push({ itemIdentifier: record.sequence });
      continue;
    }
    await s3.send(
      new PutObjectCommand({
        Bucket: 'mlpipe-local-raw',
        Key: `processed/${record.id}`,
        Body: record.sequence,
      }),
    );
  }
  return { batchItemFailures };
};
