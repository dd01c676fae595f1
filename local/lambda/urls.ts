import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { readBody } from '../protocol/http';
import { LOCAL_ACCOUNT_ID } from '../types';
import type { InvocationResult } from './runner';

/**
 * Function URLs on the local Lambda port, one path per function: `/function-urls/<function name>/…`
 * (AWS gives each its own host). The request becomes the payload format 2.0 event AWS sends, and the
 * handler's answer the HTTP response. With AWS_IAM auth an unsigned request is refused 403 as AWS
 * does; the signature itself is not checked (the local cloud has one set of dummy credentials).
 * https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
 */
export const FUNCTION_URL_PREFIX = '/function-urls/';

/** Function URLs take up to 6 MB, as synchronous invocations do. */
const URL_PAYLOAD_LIMIT = 6 * 2 ** 20;

export interface FunctionUrl {
  readonly functionName: string;
  readonly authType: 'AWS_IAM' | 'NONE';
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const isText = (contentType: string | undefined) =>
  !contentType || /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript))/.test(contentType);

export const serveFunctionUrl = async (
  req: IncomingMessage,
  res: ServerResponse,
  urls: ReadonlyMap<string, FunctionUrl>,
  invoke: (name: string, event: unknown) => Promise<InvocationResult>,
): Promise<void> => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const rest = url.pathname.slice(FUNCTION_URL_PREFIX.length);
  const slash = rest.indexOf('/');
  const name = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  const path = slash < 0 ? '/' : rest.slice(slash);
  const target = urls.get(name);
  if (!target) return send(res, 404, { Message: `no function URL for ${name}` });
  const authorization = String(req.headers.authorization ?? '');
  if (
    target.authType === 'AWS_IAM' &&
    !/^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[^/]+\/lambda\/aws4_request/.test(authorization)
  )
    return send(res, 403, { Message: 'Forbidden' });
  let body: Buffer;
  try {
    body = await readBody(req, URL_PAYLOAD_LIMIT);
  } catch {
    return send(res, 413, { Message: 'Request Entity Too Large' });
  }
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v ?? '')]),
  );
  const text = isText(headers['content-type']);
  const now = new Date();
  const requestId = randomUUID();
  const event: LambdaFunctionURLEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: name,
      domainName: String(req.headers.host ?? 'localhost'),
      domainPrefix: name,
      http: {
        method: req.method ?? 'GET',
        path,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: String(req.headers['user-agent'] ?? ''),
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      ...(target.authType === 'AWS_IAM'
        ? {
            authorizer: {
              iam: {
                accessKey: /Credential=([^/]+)/.exec(authorization)?.[1] ?? '',
                accountId: LOCAL_ACCOUNT_ID,
                callerId: LOCAL_ACCOUNT_ID,
                cognitoIdentity: null,
                principalOrgId: null,
                userArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root`,
                userId: LOCAL_ACCOUNT_ID,
              },
            },
          }
        : {}),
    } as LambdaFunctionURLEvent['requestContext'],
    isBase64Encoded: !text,
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
  };
  const result = await invoke(name, event);
  if (!result.ok) return send(res, 502, { Message: 'Internal Server Error' });
  const answer = result.payload;
  // A handler may answer a bare value: AWS then sends it as JSON with status 200.
  if (typeof answer !== 'object' || answer === null || !('statusCode' in answer)) {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
    res.end(typeof answer === 'string' ? answer : JSON.stringify(answer));
    return;
  }
  const shaped = answer as {
    statusCode: number;
    headers?: Record<string, string>;
    body?: string;
    isBase64Encoded?: boolean;
  };
  res.writeHead(shaped.statusCode, { ...(shaped.headers ?? {}), 'x-amzn-requestid': requestId });
  res.end(
    shaped.body === undefined
      ? ''
      : shaped.isBase64Encoded
        ? Buffer.from(shaped.body, 'base64')
        : shaped.body,
  );
};

export const functionUrlOf = (lambdaUrl: string, functionName: string): string =>
  `${lambdaUrl}${FUNCTION_URL_PREFIX}${encodeURIComponent(functionName)}/`;
