import type { IncomingMessage } from 'node:http';
import { LOCAL_HOST, type LocalServiceKey, type RunningService } from '../types';
import { AwsServiceError } from './errors';
import { close, createLocalServer, listen, readBody } from './http';
import { isQueryRequest, parseQuery, type QueryDialect, queryError, queryResponse } from './query';

/**
 * The AWS JSON protocols (awsJson1_0 / awsJson1_1): every call is a POST to `/` naming the
 * operation in `X-Amz-Target: <Prefix>.<Operation>`; errors carry `__type`.
 * https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html
 */
export type JsonOperation = (input: Record<string, unknown>, request: IncomingMessage) => Promise<unknown>;

export interface JsonServiceDefinition {
  readonly key: LocalServiceKey;
  readonly protocol: 'awsJson1_0' | 'awsJson1_1';
  readonly operations: Readonly<Record<string, JsonOperation>>;
  /** Where the service also answers the query protocol, for AWS CLIs older than 2.13. */
  readonly query?: QueryDialect;
}

const contentType = {
  awsJson1_0: 'application/x-amz-json-1.0',
  awsJson1_1: 'application/x-amz-json-1.1',
} as const;

/** The operation a JSON-protocol request names (`X-Amz-Target`), and its input. */
const jsonCall = async (
  req: IncomingMessage,
): Promise<{ action: string; input: Record<string, unknown> }> => {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (req.method !== 'POST' || !target) {
    throw new AwsServiceError(
      'UnknownOperationException',
      `expected a POST with an X-Amz-Target header, got ${req.method} ${req.url}`,
    );
  }
  const raw = (await readBody(req)).toString('utf8');
  let input: unknown;
  try {
    input = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (error) {
    throw new AwsServiceError(
      'SerializationException',
      `request body is not valid JSON: ${(error as Error).message}`,
      400,
      { cause: error },
    );
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new AwsServiceError('SerializationException', 'request body must be a JSON object');
  }
  return { action: target.slice(target.lastIndexOf('.') + 1), input: input as Record<string, unknown> };
};

export const startJsonService = async (
  definition: JsonServiceDefinition,
  port: number,
  onStop: () => Promise<void> = async () => {},
): Promise<RunningService> => {
  const type = contentType[definition.protocol];
  const server = createLocalServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body ?? {});
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': crypto.randomUUID(),
      });
      res.end(text);
    };
    const fail = (error: AwsServiceError) => {
      res.setHeader('x-amzn-errortype', error.code);
      reply(error.status, { __type: error.code, message: error.message, Message: error.message });
    };
    // AWS CLIs before 2.13 speak the query protocol to some services: answered in kind, in XML.
    const query =
      definition.query && !req.headers['x-amz-target'] && isQueryRequest(req.headers['content-type'])
        ? definition.query
        : undefined;
    const xml = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      const { action, input } = query
        ? parseQuery((await readBody(req)).toString('utf8'), query)
        : await jsonCall(req);
      const operation = definition.operations[action];
      if (!operation) {
        throw new AwsServiceError(
          query ? 'InvalidAction' : 'UnknownOperationException',
          `operation ${action} is not supported by the local ${definition.key}`,
        );
      }
      const result = await operation(input, req);
      if (query) xml(200, queryResponse(action, result, query));
      else reply(200, result);
    } catch (error) {
      const failure =
        error instanceof AwsServiceError
          ? error
          : new AwsServiceError('InternalFailure', (error as Error).message ?? String(error), 500, {
              cause: error,
            });
      if (query) xml(failure.status, queryError(failure.code, failure.message, failure.status, query));
      else fail(failure);
    }
  });
  const bound = await listen(server, port);
  return {
    key: definition.key,
    url: `http://${LOCAL_HOST}:${bound}`,
    stop: async () => {
      await close(server);
      await onStop();
    },
  };
};
