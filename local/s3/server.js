// The S3 emulator's own process. s3rver needs Node's legacy OpenSSL provider for paginated
// listings (TOOLCHAIN.md), a flag that must be given when a process starts, so it runs here, apart
// from the rest of the local cloud, and reports its port and its object events over IPC.
'use strict';
const S3rver = require('s3rver');
const S3Error = require('s3rver/lib/models/error');

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(process.env.MLPIPE_S3_PORT ?? 0),
  directory: process.env.MLPIPE_S3_DIR,
  silent: true,
});

/**
 * Conditional writes, which s3rver predates: a PutObject with If-None-Match: * fails with 412 when
 * the key exists; one with If-Match fails with 412 when the object's ETag differs, and 404 when
 * there is none. Conditional writes of one key take turns, so a check and its write are one step.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
const turns = new Map();
const conditionalWrites = async (ctx, next) => {
  const ifMatch = ctx.get('if-match');
  const ifNoneMatch = ctx.get('if-none-match');
  const [, bucket, ...rest] = ctx.path.split('/');
  const key = rest.map(decodeURIComponent).join('/');
  if (ctx.method !== 'PUT' || (!ifMatch && !ifNoneMatch) || !bucket || !key || ctx.get('x-amz-copy-source'))
    return next();
  const id = `${decodeURIComponent(bucket)}/${key}`;
  // Each conditional write of a key waits for the one queued before it.
  const before = turns.get(id) ?? Promise.resolve();
  let done = () => {};
  const finished = new Promise((resolve) => (done = resolve));
  const mine = before.then(() => finished);
  turns.set(id, mine);
  await before;
  try {
    let etag;
    try {
      etag = (await server.store.getMetadata(decodeURIComponent(bucket), key)).etag.replace(/"/g, '');
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    if (ifNoneMatch) {
      if (ifNoneMatch.trim() !== '*') throw new S3Error('InvalidArgument', 'If-None-Match accepts only *');
      if (etag !== undefined)
        throw new S3Error(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          {
            Condition: 'If-None-Match',
          },
        );
    }
    if (ifMatch) {
      if (etag === undefined)
        throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
      if (ifMatch.replace(/"/g, '').trim() !== etag)
        throw new S3Error(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          {
            Condition: 'If-Match',
          },
        );
    }
    await next();
  } finally {
    done();
    if (turns.get(id) === mine) turns.delete(id);
  }
};
// Before s3rver's router, its last middleware: the request is path-style (/bucket/key).
server.middleware.splice(server.middleware.length - 1, 0, conditionalWrites);
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
