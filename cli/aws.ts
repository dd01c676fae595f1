import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CloudPresence, runningCloud } from '../local/presence';

/**
 * Where the CLI's AWS SDK clients go. For `--stage local` they go to the local cloud whose data
 * folder is given (default `.mlpipe/local`), reading the endpoints it wrote to `endpoints.env`;
 * for any other stage, to AWS with the usual credential chain. Environment variables that are
 * already set (a sourced endpoints.env, AWS_PROFILE, …) win, as with the AWS CLI.
 */
export const DEFAULT_LOCAL_DATA_DIR = '.mlpipe/local';

export class LocalCloudNotRunningError extends Error {
  override name = 'LocalCloudNotRunningError';
}

/** `export NAME=value` / `NAME="value"` lines → a map. */
export const parseEnvFile = (text: string): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, name, raw] = match as unknown as [string, string, string];
    env[name] = raw.trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
};

export const localEndpointsFile = (dataDir: string): string => join(resolve(dataDir), 'endpoints.env');

/** The local cloud running on `dataDir` (see local/presence.ts); says how to start one when none does. */
export const requireRunningCloud = async (dataDir: string): Promise<CloudPresence> => {
  const cloud = await runningCloud(resolve(dataDir));
  if (!cloud)
    throw new LocalCloudNotRunningError(
      `no local cloud is running on ${resolve(dataDir)}: start one with \`mlpipe local --data-dir ${dataDir}\``,
    );
  return cloud;
};

/**
 * Puts the endpoints of the local cloud running on `dataDir` into process.env (without overriding
 * what is already set), from the endpoints.env a user would source.
 */
export const useLocalCloud = async (dataDir: string): Promise<Record<string, string>> => {
  await requireRunningCloud(dataDir);
  const env = parseEnvFile(readFileSync(localEndpointsFile(dataDir), 'utf8'));
  for (const [name, value] of Object.entries(env)) process.env[name] ??= value;
  return env;
};
