import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AwsServiceError } from '../protocol/errors';
import { startJsonService } from '../protocol/json';
import type { QueryDialect } from '../protocol/query';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, type RunningService } from '../types';

/**
 * SQS over its JSON protocol for what mlpipe uses (the inference failure destination): queues,
 * send, receive with visibility timeout and long polling, delete. State is written to
 * `<dataDir>/sqs/state.json` after every change, so a restart loses no message. It answers the
 * query protocol too, which AWS CLIs before 2.13 speak to SQS.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_Operations.html
 */
interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  visibleAt: number;
  receiveCount: number;
  receiptHandle?: string;
}

interface Queue {
  readonly name: string;
  readonly createdAt: number;
  visibilityTimeout: number;
  messages: StoredMessage[];
}

export interface RunningSqs extends RunningService {
  readonly port: number;
  queueUrl(name: string): string;
}

/** https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-xml.html */
const SQS_QUERY: QueryDialect = {
  namespace: 'http://queue.amazonaws.com/doc/2012-11-05/',
  inputNames: {
    AttributeName: 'AttributeNames',
    MessageAttributeName: 'MessageAttributeNames',
    Attribute: 'Attributes',
    SendMessageBatchRequestEntry: 'Entries',
  },
  inputMaps: ['Attributes'],
  flattened: {
    Messages: 'Message',
    QueueUrls: 'QueueUrl',
    Successful: 'SendMessageBatchResultEntry',
    Failed: 'BatchResultErrorEntry',
  },
  flattenedMaps: { Attributes: 'Attribute' },
  errorCodes: { QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue' },
};

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const MAX_BATCH = 10;
/** Message size limit: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html */
const MAX_MESSAGE_BYTES = 256 * 1024;

export const startSqs = async ({ port, dataDir }: { port: number; dataDir: string }): Promise<RunningSqs> => {
  const dir = join(dataDir, 'sqs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'state.json');
  const queues = new Map<string, Queue>(
    existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Queue[]).map((q) => [q.name, q]) : [],
  );
  const save = () => {
    writeFileSync(`${file}.tmp`, JSON.stringify([...queues.values()]));
    renameSync(`${file}.tmp`, file);
  };
  let base = '';
  const urlOf = (name: string) => `${base}/${LOCAL_ACCOUNT_ID}/${name}`;
  const queueOf = (input: Record<string, unknown>): Queue => {
    const url = String(input.QueueUrl ?? '');
    const name = url.slice(url.lastIndexOf('/') + 1);
    const queue = queues.get(name);
    if (!queue) throw new AwsServiceError('QueueDoesNotExist', `The specified queue does not exist: ${url}`);
    return queue;
  };
  const send = (queue: Queue, body: unknown, delaySeconds = 0) => {
    const text = String(body ?? '');
    if (text.length === 0)
      throw new AwsServiceError(
        'InvalidParameterValue',
        'The request must contain the parameter MessageBody.',
      );
    if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
      throw new AwsServiceError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`,
      );
    }
    const now = Date.now();
    const message: StoredMessage = {
      messageId: randomUUID(),
      body: text,
      sentAt: now,
      visibleAt: now + delaySeconds * 1000,
      receiveCount: 0,
    };
    queue.messages.push(message);
    return { MessageId: message.messageId, MD5OfMessageBody: md5(text) };
  };
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  const service = await startJsonService(
    {
      key: 'SQS',
      protocol: 'awsJson1_0',
      query: SQS_QUERY,
      operations: {
        CreateQueue: async (input) => {
          const name = String(input.QueueName ?? '');
          if (!/^[A-Za-z0-9_-]{1,80}$/.test(name))
            throw new AwsServiceError('InvalidParameterValue', `Invalid queue name: ${name}`);
          const attributes = (input.Attributes ?? {}) as Record<string, string>;
          if (!queues.has(name)) {
            queues.set(name, {
              name,
              createdAt: Date.now(),
              visibilityTimeout: Number(attributes.VisibilityTimeout ?? 30),
              messages: [],
            });
            save();
          }
          return { QueueUrl: urlOf(name) };
        },
        GetQueueUrl: async (input) => {
          const name = String(input.QueueName ?? '');
          if (!queues.has(name))
            throw new AwsServiceError('QueueDoesNotExist', `The specified queue does not exist: ${name}`);
          return { QueueUrl: urlOf(name) };
        },
        ListQueues: async (input) => ({
          QueueUrls: [...queues.keys()]
            .filter((n) => n.startsWith(String(input.QueueNamePrefix ?? '')))
            .map(urlOf),
        }),
        GetQueueAttributes: async (input) => {
          const queue = queueOf(input);
          const now = Date.now();
          return {
            Attributes: {
              QueueArn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${queue.name}`,
              ApproximateNumberOfMessages: String(queue.messages.filter((m) => m.visibleAt <= now).length),
              ApproximateNumberOfMessagesNotVisible: String(
                queue.messages.filter((m) => m.visibleAt > now).length,
              ),
              VisibilityTimeout: String(queue.visibilityTimeout),
              CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
            },
          };
        },
        SendMessage: async (input) => {
          const queue = queueOf(input);
          const result = send(queue, input.MessageBody, Number(input.DelaySeconds ?? 0));
          save();
          wake();
          return result;
        },
        SendMessageBatch: async (input) => {
          const queue = queueOf(input);
          const entries = (input.Entries ?? []) as {
            Id: string;
            MessageBody: string;
            DelaySeconds?: number;
          }[];
          if (entries.length === 0 || entries.length > MAX_BATCH) {
            throw new AwsServiceError(
              'TooManyEntriesInBatchRequest',
              `A batch holds 1 to ${MAX_BATCH} entries, got ${entries.length}`,
            );
          }
          const Successful: unknown[] = [];
          const Failed: unknown[] = [];
          for (const entry of entries) {
            try {
              Successful.push({
                Id: entry.Id,
                ...send(queue, entry.MessageBody, Number(entry.DelaySeconds ?? 0)),
              });
            } catch (error) {
              Failed.push({
                Id: entry.Id,
                SenderFault: true,
                Code: (error as AwsServiceError).code,
                Message: (error as Error).message,
              });
            }
          }
          save();
          wake();
          return { Successful, Failed };
        },
        ReceiveMessage: async (input) => {
          const queue = queueOf(input);
          const max = Math.min(MAX_BATCH, Number(input.MaxNumberOfMessages ?? 1));
          const visibility = Number(input.VisibilityTimeout ?? queue.visibilityTimeout);
          const deadline = Date.now() + Math.min(20, Number(input.WaitTimeSeconds ?? 0)) * 1000;
          for (;;) {
            const now = Date.now();
            const ready = queue.messages.filter((m) => m.visibleAt <= now).slice(0, max);
            if (ready.length > 0 || now >= deadline) {
              for (const m of ready) {
                m.visibleAt = now + visibility * 1000;
                m.receiveCount += 1;
                m.receiptHandle = randomUUID();
              }
              if (ready.length > 0) save();
              return {
                Messages: ready.map((m) => ({
                  MessageId: m.messageId,
                  ReceiptHandle: m.receiptHandle,
                  Body: m.body,
                  MD5OfBody: md5(m.body),
                  Attributes: {
                    ApproximateReceiveCount: String(m.receiveCount),
                    SentTimestamp: String(m.sentAt),
                  },
                })),
              };
            }
            await new Promise<void>((resolve) => {
              const done = () => {
                waiters.delete(done);
                clearTimeout(timer);
                resolve();
              };
              const timer = setTimeout(done, Math.min(1000, deadline - now));
              waiters.add(done);
            });
          }
        },
        DeleteMessage: async (input) => {
          const queue = queueOf(input);
          queue.messages = queue.messages.filter((m) => m.receiptHandle !== input.ReceiptHandle);
          save();
          return {};
        },
        PurgeQueue: async (input) => {
          queueOf(input).messages = [];
          save();
          return {};
        },
      },
    },
    port,
  );
  base = service.url;
  return { ...service, port: Number(new URL(service.url).port), queueUrl: urlOf };
};
