import { mkdirSync } from 'node:fs';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { listen } from '../protocol/http';
import { LOCAL_HOST, type RunningService } from '../types';
import { installFastSequences } from './sequences';

/**
 * Kinesis on loopback: kinesalite, its streams kept in LevelDB under `<dataDir>/kinesis`, so records
 * and sequence numbers survive a restart. @aws-sdk/client-kinesis speaks HTTP/2 by default (cleartext
 * here, with prior knowledge) and the AWS CLI HTTP/1.1; kinesalite knows only HTTP/1.1, so the port
 * looks at each connection's first bytes and hands HTTP/2 ones to an HTTP/2 front that serves
 * kinesalite's own request handler. A client needs no special handler, as against AWS.
 */
export interface KinesisOptions {
  readonly port: number;
  readonly dataDir: string;
}

export interface RunningKinesis extends RunningService {
  readonly port: number;
}

const kinesalite = require('kinesalite') as (options: Record<string, unknown>) => Server;
installFastSequences();

export const startKinesis = async ({ port, dataDir }: KinesisOptions): Promise<RunningKinesis> => {
  const path = join(dataDir, 'kinesis');
  mkdirSync(path, { recursive: true });
  // Streams become ACTIVE at once: a local stream has nothing to provision.
  const server = kinesalite({
    path,
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1000,
  });
  const handle = server.listeners('request')[0] as RequestListener;
  const http2 = createHttp2Server((req: Http2ServerRequest, res: Http2ServerResponse) => {
    // kinesalite reads the Host header; HTTP/2 carries it as :authority.
    req.headers.host ??= req.authority;
    handle(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
  const sockets = new Set<Socket>();
  // Without TCP_NODELAY the relay's small writes wait on the peer's delayed ACK: every HTTP/2
  // request through it took ~48 ms (Nagle's algorithm against Linux's 40 ms delayed ACK).
  const front = createNetServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      if (!first.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE)) {
        socket.pause();
        socket.unshift(first);
        server.emit('connection', socket);
        socket.resume();
        return;
      }
      // An HTTP/2 session reads its socket natively, past anything unshifted: relay it instead
      // (paused until the relay is up, or what arrives meanwhile would be lost).
      socket.pause();
      const upstream = connect({ port: http2Port, host: LOCAL_HOST, noDelay: true }, () => {
        upstream.write(first);
        socket.pipe(upstream).pipe(socket);
      });
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
  });
  const http2Port = await new Promise<number>((resolve) =>
    http2.listen(0, LOCAL_HOST, () => resolve((http2.address() as { port: number }).port)),
  );
  // kinesalite's close() closes its LevelDB first, and calls back once it is closed.
  const closeStore = () => new Promise<void>((resolve) => server.close(() => resolve()));
  let actual: number;
  try {
    actual = await listen(front as unknown as Server, port);
  } catch (error) {
    // A taken port: nothing may stay open, or the store finishes opening into a removed folder.
    await closeStore();
    await new Promise<void>((resolve) => http2.close(() => resolve()));
    throw error;
  }
  return {
    key: 'KINESIS',
    url: `http://${LOCAL_HOST}:${actual}`,
    port: actual,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await closeStore();
      await new Promise<void>((resolve) => http2.close(() => resolve()));
    },
  };
};

/** The first bytes of every HTTP/2 connection: https://www.rfc-editor.org/rfc/rfc9113#section-3.4 */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export * from './read';
