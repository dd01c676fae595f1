import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { S3EventRecord } from 'aws-lambda';
import { LocalCloudError, PortInUseError } from '../protocol/errors';
import { LOCAL_HOST, LOCAL_REGION, type RunningService } from '../types';
import { normaliseRecord } from './events';

export * from './events';

/**
 * S3 on loopback: s3rver in a child process (see server.js), its objects kept under
 * `<dataDir>/s3`, so a restart loses nothing. Object events come out normalised to AWS's shape
 * on `events` ('record'); which notifications they trigger is the event sources' business.
 */
export interface RunningS3 extends RunningService {
  readonly port: number;
  /** Emits 'record' with each S3EventRecord, as AWS would put it in an S3 event. */
  readonly events: EventEmitter<{ record: [S3EventRecord] }>;
  /** Resolves once every event of a request already answered has been emitted on `events`. */
  flush(): Promise<void>;
}

export interface S3Options {
  readonly port: number;
  readonly dataDir: string;
}

const STARTUP_TIMEOUT_MS = 15_000;

export const startS3 = async ({ port, dataDir }: S3Options): Promise<RunningS3> => {
  const directory = join(dataDir, 's3');
  mkdirSync(directory, { recursive: true });
  const child: ChildProcess = fork(join(__dirname, 'server.js'), [], {
    execArgv: ['--openssl-legacy-provider'],
    env: { ...process.env, MLPIPE_S3_PORT: String(port), MLPIPE_S3_DIR: directory },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const events = new EventEmitter<{ record: [S3EventRecord] }>();
  const flushes = new Map<number, () => void>();
  let nextFlush = 0;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const actualPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new LocalCloudError(`S3 did not start within ${STARTUP_TIMEOUT_MS / 1000} s: ${stderr}`)),
      STARTUP_TIMEOUT_MS,
    );
    child.on(
      'message',
      (message: {
        type: string;
        port?: number;
        message?: string;
        code?: string;
        event?: { Records: S3EventRecord[] };
        id?: number;
      }) => {
        if (message.type === 'ready' && message.port) {
          clearTimeout(timer);
          resolve(message.port);
        } else if (message.type === 'error') {
          clearTimeout(timer);
          reject(
            message.code === 'EADDRINUSE'
              ? new PortInUseError(port)
              : new LocalCloudError(`S3 failed to start: ${message.message}`),
          );
        } else if (message.type === 'event' && message.event) {
          for (const record of message.event.Records)
            events.emit('record', normaliseRecord(record, LOCAL_REGION));
        } else if (message.type === 'flushed' && message.id !== undefined) {
          flushes.get(message.id)?.();
          flushes.delete(message.id);
        }
      },
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new LocalCloudError(`S3 exited with code ${code} while starting: ${stderr}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    key: 'S3',
    url: `http://${LOCAL_HOST}:${actualPort}`,
    port: actualPort,
    events,
    flush: () =>
      new Promise<void>((resolve) => {
        if (!child.connected) return resolve();
        const id = nextFlush++;
        flushes.set(id, resolve);
        child.send({ type: 'flush', id });
      }),
    stop: async () => {
      for (const resolve of flushes.values()) resolve();
      flushes.clear();
      if (child.exitCode === null && child.connected) child.disconnect();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
};
