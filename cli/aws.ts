import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

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

/** Puts the local cloud's endpoints into process.env (without overriding what is already set). */
export const useLocalCloud = (dataDir: string): Record<string, string> => {
  const file = localEndpointsFile(dataDir);
  if (!existsSync(file)) {
    throw new LocalCloudNotRunningError(
      `no local cloud in ${resolve(dataDir)} (${file} is missing): start one with \`mlpipe local --data-dir ${dataDir}\``,
    );
  }
  const env = parseEnvFile(readFileSync(file, 'utf8'));
  for (const [name, value] of Object.entries(env)) process.env[name] ??= value;
  return env;
};
