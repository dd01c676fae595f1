import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipelineSpecJsonSchema } from '../../core/spec';
import type { CliCommand } from '../command';

export const SCHEMA_FILE = resolve(__dirname, '../../schema/pipeline-spec.schema.json');

export const renderSchema = (): string => `${JSON.stringify(pipelineSpecJsonSchema(), null, 2)}\n`;

export const command: CliCommand = {
  name: 'schema',
  summary: 'Print (or --write) the JSON Schema of pipeline specs, for editors',
  usage: 'mlpipe schema [--write]',
  async run(args, io) {
    if (args.includes('--write')) {
      writeFileSync(SCHEMA_FILE, renderSchema());
      io.out(`wrote ${SCHEMA_FILE}`);
    } else io.out(renderSchema().trimEnd());
    return 0;
  },
};
