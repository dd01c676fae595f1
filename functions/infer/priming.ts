import { createServer } from 'node:http';
import { createServer as createHttp2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * Stand-ins for what the inference entry points call on their way through a first batch, for the
 * image's build (make-code-cache.ts): S3's GetObject of deployment records and model bundles (path
 * style, as the SDK addresses a bucket at an IP address), and Kinesis's PutRecords (over HTTP/2, as
 * the SDK's Kinesis client speaks it). With them the priming run scores and writes, so the code
 * cache holds what a real first batch runs: the SDK's answers, the record's and the manifest's
 * schemas, onnxruntime's calls and the write. They answer what a build needs and no more.
 */
export interface PrimingServices {
  readonly s3Url: string;
  readonly kinesisUrl: string;
  /** Records PutRecords was asked to write. */
  written(): number;
  close(): Promise<void>;
}

/** `objects` by "bucket/key". */
export const startPrimingServices = async (
  objects: ReadonlyMap<string, Buffer>,
): Promise<PrimingServices> => {
  const s3 = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://s3').pathname
      .slice(1)
      .split('/')
      .map(decodeURIComponent)
      .join('/');
    const body = objects.get(path);
    req.resume();
    if ((req.method === 'GET' || req.method === 'HEAD') && body) {
      res.writeHead(200, {
        'content-length': body.byteLength,
        'content-type': 'application/octet-stream',
        etag: '"priming"',
        'last-modified': new Date(0).toUTCString(),
      });
      res.end(req.method === 'GET' ? body : undefined);
      return;
    }
    const error = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>no ${path} here</Message></Error>`;
    res.writeHead(404, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(error) });
    res.end(req.method === 'HEAD' ? undefined : error);
  });
  let written = 0;
  const sessions = new Set<ServerHttp2Session>();
  const kinesis = createHttp2Server((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { Records = [] } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        Records?: unknown[];
      };
      written += Records.length;
      const answer = JSON.stringify({
        FailedRecordCount: 0,
        Records: Records.map((_, i) => ({ SequenceNumber: String(i + 1), ShardId: 'shardId-000000000000' })),
      });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(answer);
    });
  });
  kinesis.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  const listen = (server: {
    listen(port: number, host: string, done: () => void): unknown;
    address(): unknown;
  }) =>
    new Promise<string>((resolve) =>
      server.listen(0, '127.0.0.1', () =>
        resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
      ),
    );
  const [s3Url, kinesisUrl] = await Promise.all([listen(s3), listen(kinesis)]);
  return {
    s3Url,
    kinesisUrl,
    written: () => written,
    close: async () => {
      s3.closeAllConnections();
      for (const session of sessions) session.destroy();
      await Promise.all([
        new Promise((resolve) => s3.close(resolve)),
        new Promise((resolve) => kinesis.close(resolve)),
      ]);
    },
  };
};
