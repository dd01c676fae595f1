import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { LOCAL_HOST } from '../types';
import { PortInUseError } from './errors';

export const readBody = async (req: IncomingMessage, limitBytes = 64 * 2 ** 20): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new RangeError(`request body over ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
};

/** Listens on loopback only; a busy port becomes a PortInUseError naming it. */
export const listen = (server: Server, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port, { cause: error }) : error);
    };
    const onListening = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, LOCAL_HOST);
  });

export const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** A server whose async listener can never leave a request hanging: a throw becomes a 500. */
export const createLocalServer = (listener: RequestListener): Server =>
  createServer((req, res) => {
    listener(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ __type: 'InternalFailure', message: String((error as Error)?.message ?? error) }),
      );
    });
  });
