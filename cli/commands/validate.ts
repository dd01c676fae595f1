import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSpecFile, SpecError, specFiles } from '../../core/spec';
import type { CliCommand } from '../command';

export const PIPELINES_DIR = resolve(__dirname, '../../pipelines');

export const command: CliCommand = {
  name: 'validate',
  summary: 'Check pipeline specs; lists every mistake with file, path and reason',
  usage: 'mlpipe validate [file or folder…]   (default: every pipelines/*.yml)',
  async run(args, io) {
    // A folder stands for its *.yml files, as pipelines/ does by default.
    const files = (args.length > 0 ? args.map((a) => resolve(a)) : [PIPELINES_DIR]).flatMap((path) =>
      statSync(path, { throwIfNoEntry: false })?.isDirectory() ? specFiles(path) : [path],
    );
    let failed = 0;
    for (const file of files) {
      if (!statSync(file, { throwIfNoEntry: false })) {
        failed += 1;
        io.err(`${file}: no such file`);
        continue;
      }
      try {
        const spec = loadSpecFile(file);
        io.out(`ok  ${spec.name} (${spec.target.task}, ${spec.features.length} features)`);
      } catch (error) {
        failed += 1;
        if (error instanceof SpecError) io.err(error.message);
        else io.err(`${file}: ${(error as Error).message}`);
      }
    }
    if (failed > 0) io.err(`${failed} of ${files.length} spec(s) invalid`);
    return failed > 0 ? 1 : 0;
  },
};
