import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type RunningSqs, startSqs } from '../../../local/messaging/sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/types';

const dataDir = mkdtempSync(join(tmpdir(), 'mlpipe-sqs-'));
let sqs: RunningSqs;
let client: SQSClient;
beforeAll(async () => {
  sqs = await startSqs({ port: 0, dataDir });
  client = new SQSClient({ endpoint: sqs.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});
afterAll(async () => {
  client.destroy();
  await sqs.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the local SQS', () => {
  it('sends, receives with a visibility timeout, and deletes, through the real SDK (MD5s checked)', async () => {
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({ QueueName: 'mlpipe-local-infer-failures' }),
    );
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: '{"reason":"bad json"}' }));
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'one' },
          { Id: 'b', MessageBody: 'two' },
        ],
      }),
    );
    const got = await client.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
    );
    expect(got.Messages?.map((m) => m.Body)).toEqual(['{"reason":"bad json"}', 'one', 'two']);
    const hidden = await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(hidden.Messages ?? []).toHaveLength(0);
    for (const m of got.Messages ?? [])
      await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    const attributes = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
    );
    expect(attributes.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('waits for a message with long polling', async () => {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'polled' }));
    const receive = client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    setTimeout(() => void client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' })), 300);
    expect((await receive).Messages?.[0]?.Body).toBe('late');
  });

  it('keeps messages across a restart and names a queue that does not exist', async () => {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'durable' }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'kept' }));
    await sqs.stop();
    sqs = await startSqs({ port: 0, dataDir });
    client.destroy();
    client = new SQSClient({ endpoint: sqs.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl('durable') }));
    expect(got.Messages?.[0]?.Body).toBe('kept');
    await expect(
      client.send(new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl('nope') })),
    ).rejects.toBeInstanceOf(QueueDoesNotExist);
  });
});
