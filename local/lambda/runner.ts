import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types';

const ASYNC_ATTEMPTS = 3;

/**
 * Runs one function's handler as Lambda would: each instance is its own process that initialises
 * the module once (the cold start) and serves one invocation at a time; a new instance starts when
 * every instance is busy, up to the concurrency limit, and later invocations wait their turn. An
 * invocation that outlives the function's timeout kills its instance, as AWS does.
 */
export interface LocalFunction {
  /** The deployed name, e.g. mlpipe-local-ingest. */
  readonly functionName: string;
  /** `path/to/module.export`, relative to `root`. */
  readonly handler: string;
  /** As deployed (Zip unless said): what GetFunction and ListFunctions report. */
  readonly packageType?: 'Zip' | 'Image';
  readonly runtime?: string;
  readonly root: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly concurrency?: number;
}

export type InvocationResult =
  | { readonly ok: true; readonly payload: unknown; readonly coldStart: boolean; readonly durationMs: number }
  | {
      readonly ok: false;
      readonly error: { errorType: string; errorMessage: string; trace?: string[] };
      readonly coldStart: boolean;
      readonly durationMs: number;
    };

export interface LogLine {
  readonly functionName: string;
  readonly requestId: string | undefined;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

interface Instance {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  busy: boolean;
  requestId: string | undefined;
  readonly logStreamName: string;
}

const RUNTIME = join(__dirname, 'runtime.js');
const DEFAULT_CONCURRENCY = 4;

export class FunctionPool {
  private readonly instances: Instance[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<string, (message: Record<string, unknown>) => void>();
  coldStarts = 0;

  constructor(
    readonly fn: LocalFunction,
    private readonly onLog: (line: LogLine) => void = () => {},
  ) {}

  get arn(): string {
    return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${this.fn.functionName}`;
  }

  private start(): Instance {
    // Each instance has a /tmp of its own, as in Lambda, gone with the instance.
    const tmp = mkdtempSync(join(tmpdir(), `mlpipe-lambda-${this.fn.functionName}-`));
    const child = fork(RUNTIME, [], {
      cwd: this.fn.root,
      env: {
        ...process.env,
        ...this.fn.environment,
        AWS_LAMBDA_FUNCTION_NAME: this.fn.functionName,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.fn.memorySize),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_REGION: LOCAL_REGION,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        MLPIPE_LAMBDA_HANDLER: this.fn.handler,
        MLPIPE_LAMBDA_ROOT: this.fn.root,
        // In AWS the functions run on nodejs22.x; locally on this machine's Node, whatever its age.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        TMPDIR: tmp,
        MLPIPE_TRANSPILE_CACHE_TMPDIR: tmpdir(),
        // Lambda's reserved TZ: a date without a zone means UTC in a function, whatever the laptop's zone.
        // https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        TZ: ':UTC',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const instance: Instance = {
      process: child,
      busy: false,
      requestId: undefined,
      logStreamName: `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomUUID().replaceAll('-', '')}`,
      ready: new Promise<void>((resolve, reject) => {
        child.once('message', (message: { type: string; errorType?: string; errorMessage?: string }) => {
          if (message.type === 'ready') resolve();
          else
            reject(
              Object.assign(new Error(message.errorMessage ?? 'init failed'), {
                name: message.errorType ?? 'Runtime.InitError',
              }),
            );
        });
        child.once('exit', (code) =>
          reject(new Error(`instance of ${this.fn.functionName} exited during init (code ${code})`)),
        );
      }),
    };
    instance.ready.catch(() => {});
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = child[stream];
      if (!source) continue;
      createInterface({ input: source }).on('line', (line) =>
        this.onLog({ functionName: this.fn.functionName, requestId: instance.requestId, stream, line }),
      );
    }
    // The handler's last log lines and its result come on two pipes, stdout and IPC, and the
    // result could be handled first: the lines would then belong to no request. The child writes
    // to a pipe synchronously (Linux), so its lines are in the pipe before the result is sent; a
    // result handled in the check phase comes after every line read in the same poll.
    child.on('message', (message: Record<string, unknown>) => {
      if (message.type === 'result') setImmediate(() => this.pending.get(String(message.id))?.(message));
    });
    child.on('exit', (code, signal) => {
      rmSync(tmp, { recursive: true, force: true });
      const index = this.instances.indexOf(instance);
      if (index >= 0) this.instances.splice(index, 1);
      // A handler that kills its process (process.exit, a crash) fails its invocation at once.
      const requestId = instance.requestId;
      if (requestId) {
        this.pending.get(requestId)?.({
          type: 'result',
          ok: false,
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${requestId} Error: Runtime exited with ${signal ? `signal ${signal}` : `error: exit status ${code}`}`,
        });
      }
    });
    this.instances.push(instance);
    this.coldStarts += 1;
    return instance;
  }

  private async acquire(): Promise<{ instance: Instance; cold: boolean }> {
    for (;;) {
      const idle = this.instances.find((i) => !i.busy);
      if (idle) {
        idle.busy = true;
        return { instance: idle, cold: false };
      }
      if (this.instances.length < (this.fn.concurrency ?? DEFAULT_CONCURRENCY)) {
        const instance = this.start();
        instance.busy = true;
        return { instance, cold: true };
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** An instance that failed or timed out is never reused. */
  private retire(instance: Instance): void {
    const index = this.instances.indexOf(instance);
    if (index >= 0) this.instances.splice(index, 1);
    instance.process.kill('SIGKILL');
    this.waiting.shift()?.();
  }

  private release(instance: Instance): void {
    instance.busy = false;
    instance.requestId = undefined;
    this.waiting.shift()?.();
  }

  /**
   * An asynchronous invocation: retried twice on a function error, as AWS does by default, under
   * the first attempt's request id: https://repost.aws/knowledge-center/lambda-function-duplicate-invocations
   */
  async invokeAsync(
    event: unknown,
    requestId: string = randomUUID(),
  ): Promise<{ readonly result: InvocationResult; readonly attempts: number }> {
    let result = await this.invoke(event, requestId);
    let attempts = 1;
    while (!result.ok && attempts < ASYNC_ATTEMPTS) {
      result = await this.invoke(event, requestId);
      attempts += 1;
    }
    return { result, attempts };
  }

  async invoke(event: unknown, requestId: string = randomUUID()): Promise<InvocationResult> {
    const { instance, cold } = await this.acquire();
    const started = Date.now();
    try {
      await instance.ready;
    } catch (error) {
      this.retire(instance);
      const e = error as Error;
      return {
        ok: false,
        error: { errorType: e.name, errorMessage: e.message },
        coldStart: cold,
        durationMs: Date.now() - started,
      };
    }
    instance.requestId = requestId;
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    const message = await new Promise<Record<string, unknown> | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(requestId, (m) => {
        clearTimeout(timer);
        this.pending.delete(requestId);
        resolve(m);
      });
      instance.process.send({
        type: 'invoke',
        id: requestId,
        event,
        context: {
          functionName: this.fn.functionName,
          invokedFunctionArn: this.arn,
          memoryLimitInMB: this.fn.memorySize,
          logStreamName: instance.logStreamName,
          deadline: started + timeoutMs,
        },
      });
    });
    const durationMs = Date.now() - started;
    if (!message) {
      // A timed-out instance may still be running the handler: it is not reused.
      this.retire(instance);
      return {
        ok: false,
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: `Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`,
        },
        coldStart: cold,
        durationMs,
      };
    }
    this.release(instance);
    if (message.ok) return { ok: true, payload: message.result, coldStart: cold, durationMs };
    return {
      ok: false,
      error: {
        errorType: String(message.errorType),
        errorMessage: String(message.errorMessage),
        trace: message.trace as string[],
      },
      coldStart: cold,
      durationMs,
    };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.instances.map(
        (i) =>
          new Promise<void>((resolve) => {
            if (i.process.exitCode !== null) return resolve();
            i.process.once('exit', () => resolve());
            i.process.kill('SIGTERM');
          }),
      ),
    );
  }
}
