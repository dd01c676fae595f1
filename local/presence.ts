import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalServiceKey } from './types';

/**
 * How one process finds a local cloud another one runs (`mlpipe local` in one terminal, `mlpipe
 * run` or `mlpipe approve` in another): `cloud.json` in its data folder, written once every
 * service is up and removed when it stops. A crashed cloud leaves the file behind, so a reader also
 * checks that the process lives and that its S3 endpoint answers.
 */
export interface CloudPresence {
  readonly pid: number;
  readonly stage: string;
  readonly startedAt: string;
  readonly endpoints: Readonly<Partial<Record<LocalServiceKey, string>>>;
}

const presenceFile = (dataDir: string) => join(dataDir, 'cloud.json');

export const announceCloud = (dataDir: string, presence: CloudPresence): void =>
  writeFileSync(presenceFile(dataDir), `${JSON.stringify(presence, null, 2)}\n`);

export const withdrawCloud = (dataDir: string): void => rmSync(presenceFile(dataDir), { force: true });

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const answers = async (url: string): Promise<boolean> => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
};

/** The local cloud running on `dataDir`, or undefined when none is (or it died without saying so). */
export const runningCloud = async (dataDir: string): Promise<CloudPresence | undefined> => {
  const file = presenceFile(dataDir);
  if (!existsSync(file)) return undefined;
  let presence: CloudPresence;
  try {
    presence = JSON.parse(readFileSync(file, 'utf8')) as CloudPresence;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(presence.pid) || !alive(presence.pid)) return undefined;
  const s3 = presence.endpoints.S3;
  return s3 && (await answers(s3)) ? presence : undefined;
};
