import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A service's whole state as one JSON file, written after every change (whole, then renamed, so a
 * crash never leaves half a file): enough for the few hundred objects a local cloud holds.
 */
export interface JsonStore<T> {
  readonly data: T;
  save(): void;
}

export const openJsonStore = <T>(file: string, initial: () => T): JsonStore<T> => {
  mkdirSync(dirname(file), { recursive: true });
  const data = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : initial();
  return {
    data,
    save: () => {
      writeFileSync(`${file}.tmp`, JSON.stringify(data));
      renameSync(`${file}.tmp`, file);
    },
  };
};
