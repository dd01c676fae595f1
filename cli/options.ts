import { UsageError } from './command';

/**
 * A small, strict option parser: every sub-command declares its flags, and anything else is a
 * usage error naming the flag (no silent typos like `--stge prod`).
 */
export interface FlagSpec {
  readonly [flag: string]: 'string' | 'boolean';
}

export interface Parsed<F extends FlagSpec> {
  readonly flags: { [K in keyof F]?: F[K] extends 'boolean' ? boolean : string };
  readonly positional: readonly string[];
}

export const parseArgs = <F extends FlagSpec>(args: readonly string[], spec: F): Parsed<F> => {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      flags[name] = true;
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    flags[name] = value;
  }
  return { flags: flags as Parsed<F>['flags'], positional };
};
