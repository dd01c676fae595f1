import type { ServerResponse } from 'node:http';
import { close, createLocalServer, listen, readBody } from '../protocol/http';
import { LOCAL_ACCOUNT_ID, LOCAL_HOST, LOCAL_REGION, type RunningService } from '../types';
import { FunctionPool, type InvocationResult, type LocalFunction, type LogLine } from './runner';

import { FUNCTION_URL_PREFIX, type FunctionUrl, functionUrlOf, serveFunctionUrl } from './urls';

export * from './runner';
export * from './urls';

/**
 * Lambda's REST-JSON API on loopback for the operations mlpipe uses: Invoke (RequestResponse,
 * Event, DryRun), GetFunction and ListFunctions, and GetFunctionUrlConfig and
 * ListFunctionUrlConfigs, which is how a script finds a function's URL. Functions are registered
 * from serverless.yml by the provisioning step; each runs in a FunctionPool.
 * https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
export interface RunningLambda extends RunningService {
  readonly port: number;
  register(fn: LocalFunction): FunctionPool;
  pool(name: string): FunctionPool | undefined;
  /** Invokes in-process (what event sources use): the same pools as the HTTP API. */
  invoke(name: string, event: unknown): Promise<InvocationResult>;
  /** Invokes asynchronously, with Lambda's retries (FunctionPool.invokeAsync). */
  invokeAsync(name: string, event: unknown): Promise<{ result: InvocationResult; attempts: number }>;
  /** Gives a function a URL (AWS::Lambda::Url) and returns it. */
  registerUrl(url: FunctionUrl): string;
}

export interface LambdaOptions {
  readonly port: number;
  readonly onLog?: (line: LogLine) => void;
}

/** Request payload limits: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
const SYNC_PAYLOAD_LIMIT = 6 * 2 ** 20;
const ASYNC_PAYLOAD_LIMIT = 256 * 2 ** 10;

const sendError = (res: ServerResponse, status: number, type: string, message: string) => {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ Type: 'User', message }));
};

/** A function name, a partial ARN (`123:function:name`) or a full ARN, optionally with a qualifier. */
export const functionNameOf = (reference: string): string => {
  const decoded = decodeURIComponent(reference);
  const match = /(?:^|:function:)([A-Za-z0-9_-]+)(?::[^:]+)?$/.exec(decoded);
  return match?.[1] ?? decoded;
};

/**
 * A function's configuration as AWS reports it: a zip function's runtime and handler, or an image
 * function's command. https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
 */
const configuration = (pool: FunctionPool) => ({
  FunctionName: pool.fn.functionName,
  FunctionArn: pool.arn,
  PackageType: pool.fn.packageType ?? 'Zip',
  ...(pool.fn.packageType === 'Image'
    ? { ImageConfigResponse: { ImageConfig: { Command: [pool.fn.handler] } } }
    : { Runtime: pool.fn.runtime ?? 'nodejs22.x', Handler: pool.fn.handler }),
  Timeout: pool.fn.timeoutSeconds,
  MemorySize: pool.fn.memorySize,
  Environment: { Variables: pool.fn.environment },
  State: 'Active',
  Version: '$LATEST',
});

export const startLambda = async ({ port, onLog }: LambdaOptions): Promise<RunningLambda> => {
  const pools = new Map<string, FunctionPool>();
  const background = new Set<Promise<unknown>>();
  const poolOf = (name: string) => {
    const pool = pools.get(name);
    if (!pool) throw new Error(`no function ${name}`);
    return pool;
  };
  const invoke = async (name: string, event: unknown): Promise<InvocationResult> =>
    poolOf(name).invoke(event);
  const urls = new Map<string, FunctionUrl & { readonly created: string }>();
  let base = '';
  /** https://docs.aws.amazon.com/lambda/latest/api/API_FunctionUrlConfig.html */
  const urlConfiguration = (pool: FunctionPool) => {
    const target = urls.get(pool.fn.functionName);
    if (!target) return undefined;
    return {
      FunctionUrl: functionUrlOf(base, target.functionName),
      FunctionArn: pool.arn,
      AuthType: target.authType,
      CreationTime: target.created,
      LastModifiedTime: target.created,
      InvokeMode: 'BUFFERED',
    };
  };
  const server = createLocalServer(async (req, res) => {
    const url = new URL(req.url ?? '/', `http://${LOCAL_HOST}`);
    if (url.pathname.startsWith(FUNCTION_URL_PREFIX)) return serveFunctionUrl(req, res, urls, invoke);
    const urlConfig = /^\/2021-10-31\/functions\/([^/]+)\/(url|urls)\/?$/.exec(url.pathname);
    if (req.method === 'GET' && urlConfig) {
      const name = functionNameOf(urlConfig[1] ?? '');
      const pool = pools.get(name);
      if (!pool)
        return sendError(
          res,
          404,
          'ResourceNotFoundException',
          `Function not found: arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`,
        );
      const config = urlConfiguration(pool);
      if (urlConfig[2] === 'urls') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ FunctionUrlConfigs: config ? [config] : [] }));
        return;
      }
      if (!config)
        return sendError(res, 404, 'ResourceNotFoundException', 'The resource you requested does not exist.');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(config));
      return;
    }
    const invocation = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    const single = /^\/2015-03-31\/functions\/([^/]+)\/?$/.exec(url.pathname);
    if (req.method === 'GET' && /^\/2015-03-31\/functions\/?$/.test(url.pathname)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Functions: [...pools.values()].map(configuration) }));
      return;
    }
    const reference = invocation?.[1] ?? single?.[1];
    const name = reference ? functionNameOf(reference) : undefined;
    const pool = name ? pools.get(name) : undefined;
    if (!reference || !name)
      return sendError(res, 404, 'UnknownOperationException', `${req.method} ${url.pathname}`);
    if (!pool) {
      return sendError(
        res,
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`,
      );
    }
    if (req.method === 'GET' && single) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Configuration: configuration(pool) }));
      return;
    }
    if (req.method !== 'POST' || !invocation)
      return sendError(res, 404, 'UnknownOperationException', url.pathname);
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    const limit = type === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch {
      return sendError(
        res,
        413,
        'RequestTooLargeException',
        `Request must be smaller than ${limit} bytes for the ${type} invocation type`,
      );
    }
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        return sendError(
          res,
          400,
          'InvalidRequestContentException',
          'Could not parse request body into json',
        );
      }
    }
    if (type === 'DryRun') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (type === 'Event') {
      const requestId = crypto.randomUUID();
      const run = pool.invokeAsync(event, requestId);
      background.add(run);
      void run.finally(() => background.delete(run));
      res.writeHead(202, { 'x-amzn-requestid': requestId });
      res.end();
      return;
    }
    const result = await pool.invoke(event);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
    };
    if (!result.ok) headers['x-amz-function-error'] = 'Unhandled';
    res.writeHead(200, headers);
    res.end(JSON.stringify(result.ok ? result.payload : result.error));
  });
  const actual = await listen(server, port);
  base = `http://${LOCAL_HOST}:${actual}`;
  return {
    key: 'LAMBDA',
    url: base,
    port: actual,
    register: (fn) => {
      const pool = new FunctionPool(fn, onLog);
      pools.set(fn.functionName, pool);
      return pool;
    },
    pool: (name) => pools.get(name),
    invoke,
    invokeAsync: async (name, event) => poolOf(name).invokeAsync(event),
    registerUrl: (fnUrl) => {
      const created = urls.get(fnUrl.functionName)?.created ?? new Date().toISOString();
      urls.set(fnUrl.functionName, { ...fnUrl, created });
      return functionUrlOf(base, fnUrl.functionName);
    },
    stop: async () => {
      await Promise.allSettled([...background]);
      await close(server);
      await Promise.all([...pools.values()].map((p) => p.stop()));
    },
  };
};
