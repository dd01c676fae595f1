// The S3 emulator's own process. s3rver needs Node's legacy OpenSSL provider for paginated
// listings (TOOLCHAIN.md), a flag that must be given when a process starts, so it runs here, apart
// from the rest of the local cloud, and reports its port and its object events over IPC.
'use strict';
const S3rver = require('s3rver');

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(process.env.MLPIPE_S3_PORT ?? 0),
  directory: process.env.MLPIPE_S3_DIR,
  silent: true,
});
server.on('event', (event) => process.send?.({ type: 'event', event }));
// s3rver emits an object's event before it answers the PUT, but IPC and HTTP are separate pipes:
// the parent can see the answer first. A flush answered on the IPC pipe comes after every event
// sent before it, so the parent knows it has them all.
process.on('message', (message) => {
  if (message?.type === 'flush') process.send?.({ type: 'flushed', id: message.id });
});
const fail = (error) => {
  if (!process.send) process.exit(1);
  process.send({ type: 'error', message: error.message, code: error.code }, () => process.exit(1));
};
// s3rver does not reject run() when its port is taken: the listen error is thrown from the HTTP
// server's 'error' event instead, and would end this process without telling the parent why.
process.on('uncaughtException', fail);
server.run().then((address) => process.send?.({ type: 'ready', port: address.port }), fail);
process.on('disconnect', () => {
  server.close().finally(() => process.exit(0));
});
