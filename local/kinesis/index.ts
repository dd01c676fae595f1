import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { close, listen } from '../protocol/http';
import { LOCAL_HOST, type RunningService } from '../types';

/**
 * Kinesis on loopback: kinesalite, its streams kept in LevelDB under `<dataDir>/kinesis`, so records
 * and sequence numbers survive a restart. Clients must speak HTTP/1.1 to it: @aws-sdk/client-kinesis
 * defaults to HTTP/2, which kinesalite refuses (pass `new NodeHttpHandler()`).
 */
export interface KinesisOptions {
  readonly port: number;
  readonly dataDir: string;
}

export interface RunningKinesis extends RunningService {
  readonly port: number;
}

const kinesalite = require('kinesalite') as (options: Record<string, unknown>) => Server;

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
  const actual = await listen(server, port);
  return { key: 'KINESIS', url: `http://${LOCAL_HOST}:${actual}`, port: actual, stop: () => close(server) };
};
