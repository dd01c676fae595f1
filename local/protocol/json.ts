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
    const query = definition.query;
    if (query && !req.headers['x-amz-target'] && isQueryRequest(req.headers['content-type'])) {
      const answer = (status: number, xml: string) => {
        res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
        res.end(xml);
      };
      try {
        const { action, input } = parseQuery((await readBody(req)).toString('utf8'), query);
        const operation = definition.operations[action];
        if (!operation)
          throw new AwsServiceError(
            'InvalidAction',
            `operation ${action} is not supported by the local ${definition.key}`,
          );
        answer(200, queryResponse(action, await operation(input, req), query));
      } catch (error) {
        const failure =
          error instanceof AwsServiceError
            ? error
            : new AwsServiceError('InternalFailure', (error as Error).message ?? String(error), 500, {
                cause: error,
              });
        answer(failure.status, queryError(failure.code, failure.message, failure.status, query));
      }
      return;
    }
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operationName = target.slice(target.lastIndexOf('.') + 1);
      if (req.method !== 'POST' || !target) {
        throw new AwsServiceError(
          'UnknownOperationException',
          `expected a POST with an X-Amz-Target header, got ${req.method} ${req.url}`,
        );
      }
      const operation = definition.operations[operationName];
      if (!operation) {
        throw new AwsServiceError(
          'UnknownOperationException',
          `operation ${operationName} is not supported by the local ${definition.key}`,
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
      reply(200, await operation(input as Record<string, unknown>, req));
    } catch (error) {
      if (error instanceof AwsServiceError) fail(error);
      else
        fail(
          new AwsServiceError('InternalFailure', (error as Error).message ?? String(error), 500, {
            cause: error,
          }),
        );
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
