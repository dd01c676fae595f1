import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AwsServiceError } from '../protocol/errors';
import { close, createLocalServer, listen, readBody } from '../protocol/http';
import { openJsonStore } from '../protocol/store';
import { LOCAL_ACCOUNT_ID, LOCAL_HOST, LOCAL_REGION, type RunningService } from '../types';

/**
 * SNS over the AWS query protocol, which the SDK v3 SNS client speaks (form-encoded requests, XML
 * answers): topics and Publish. Nothing is delivered anywhere; every message is recorded in
 * `<dataDir>/sns/messages.jsonl`, where `mlpipe events` and the tests read it.
 * https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
 */
export interface RecordedMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  readonly attributes: Record<string, string>;
  readonly at: string;
}

export interface RunningSns extends RunningService {
  messages(): RecordedMessage[];
}

const xml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const NS = 'http://sns.amazonaws.com/doc/2010-03-31/';

export const startSns = async ({ port, dataDir }: { port: number; dataDir: string }): Promise<RunningSns> => {
  const dir = join(dataDir, 'sns');
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'messages.jsonl');
  const store = openJsonStore<{ topics: string[] }>(join(dir, 'topics.json'), () => ({ topics: [] }));
  const arnOf = (name: string) => `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`;
  const respond = (action: string, result: string) =>
    `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;

  const actions: Record<string, (p: URLSearchParams) => string> = {
    CreateTopic: (p) => {
      const name = p.get('Name') ?? '';
      if (!/^[\w-]{1,256}(\.fifo)?$/.test(name))
        throw new AwsServiceError('InvalidParameter', `Invalid parameter: Topic Name ${name}`);
      if (!store.data.topics.includes(name)) {
        store.data.topics.push(name);
        store.save();
      }
      return respond('CreateTopic', `<TopicArn>${xml(arnOf(name))}</TopicArn>`);
    },
    ListTopics: () =>
      respond(
        'ListTopics',
        `<Topics>${store.data.topics.map((t) => `<member><TopicArn>${xml(arnOf(t))}</TopicArn></member>`).join('')}</Topics>`,
      ),
    Publish: (p) => {
      const topicArn = p.get('TopicArn') ?? p.get('TargetArn') ?? '';
      const name = topicArn.slice(topicArn.lastIndexOf(':') + 1);
      if (!store.data.topics.includes(name))
        throw new AwsServiceError('NotFound', 'Topic does not exist', 404);
      const message = p.get('Message');
      if (message === null || message === '')
        throw new AwsServiceError('InvalidParameter', 'Invalid parameter: Empty message');
      const attributes: Record<string, string> = {};
      for (let i = 1; p.has(`MessageAttributes.entry.${i}.Name`); i++) {
        attributes[p.get(`MessageAttributes.entry.${i}.Name`) ?? ''] =
          p.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? '';
      }
      const recorded: RecordedMessage = {
        messageId: randomUUID(),
        topicArn,
        ...(p.get('Subject') ? { subject: p.get('Subject') as string } : {}),
        message,
        attributes,
        at: new Date().toISOString(),
      };
      appendFileSync(log, `${JSON.stringify(recorded)}\n`);
      return respond('Publish', `<MessageId>${recorded.messageId}</MessageId>`);
    },
  };

  const server = createLocalServer(async (req, res) => {
    const params = new URLSearchParams((await readBody(req)).toString('utf8'));
    const action = params.get('Action') ?? '';
    try {
      const handler = actions[action];
      if (!handler)
        throw new AwsServiceError('InvalidAction', `action ${action} is not supported by the local SNS`);
      const body = handler(params);
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(body);
    } catch (error) {
      const e =
        error instanceof AwsServiceError
          ? error
          : new AwsServiceError('InternalError', (error as Error).message, 500);
      res.writeHead(e.status, { 'content-type': 'text/xml' });
      res.end(
        `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${xml(e.code)}</Code><Message>${xml(e.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      );
    }
  });
  const bound = await listen(server, port);
  return {
    key: 'SNS',
    url: `http://${LOCAL_HOST}:${bound}`,
    stop: () => close(server),
    messages: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as RecordedMessage)
        : [],
  };
};
