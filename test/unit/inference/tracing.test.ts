import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/**
 * The inference entry points' X-Ray subsegments, as the X-Ray SDK sends them to the daemon over UDP
 * inside Lambda: a daemon stand-in on a free port receives them, so what is checked is the wire.
 */
type Subsegment = {
  name: string;
  annotations?: Record<string, unknown>;
  fault?: boolean;
  error?: boolean;
  cause?: { exceptions?: { message?: string }[] };
};

describe('tracing an inference invocation', () => {
  const saved = { ...process.env };
  let daemon: Socket;
  const received: Subsegment[] = [];
  let tracing: typeof import('../../../functions/infer/tracing');

  beforeAll(async () => {
    daemon = createSocket('udp4');
    daemon.on('message', (message) => {
      // "<header>\n<document>": https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html
      const [, document] = message.toString('utf8').split('\n');
      if (document) received.push(JSON.parse(document) as Subsegment);
    });
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    // What Lambda sets for a function with active tracing.
    Object.assign(process.env, {
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      LAMBDA_TASK_ROOT: process.cwd(),
      _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    });
    tracing = await import('../../../functions/infer/tracing');
  });
  afterAll(() => {
    process.env = saved;
    daemon.close();
  });

  const arrived = async (name: string): Promise<Subsegment> => {
    for (let i = 0; i < 100; i++) {
      const found = received.find((s) => s.name === name);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no subsegment ${name} arrived; got ${received.map((s) => s.name).join(', ')}`);
  };

  it('sends one subsegment per invocation with the cold start, the service and what the handler annotated', async () => {
    const handler = tracing.traced('infer-stream', async (records: number) => {
      tracing.annotate({ records, predicted: records - 1, poisoned: 1 });
      return records * 2;
    });
    await expect(handler(3)).resolves.toBe(6);
    const segment = await arrived('## infer-stream');
    expect(segment.annotations).toEqual({
      ColdStart: true,
      Service: 'mlpipe-infer',
      records: 3,
      predicted: 2,
      poisoned: 1,
    });
  });

  it('records a thrown error on the subsegment and still throws it', async () => {
    const handler = tracing.traced('infer-http', async () => {
      throw new Error('the model bundle failed its SHA-256 check');
    });
    await expect(handler(undefined)).rejects.toThrow('SHA-256');
    const segment = await arrived('## infer-http');
    expect(segment.annotations?.ColdStart).toBe(false);
    expect(segment.fault || segment.error).toBe(true);
    expect(segment.cause?.exceptions?.[0]?.message).toBe('the model bundle failed its SHA-256 check');
  });
});
