import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The public datasets that ship in the vega-datasets package (see TOOLCHAIN.md). */
export const datasetPath = (file: string): string =>
  join(__dirname, '../../node_modules/vega-datasets/data', file);

export const jsonDataset = (file: string): Record<string, unknown>[] =>
  JSON.parse(readFileSync(datasetPath(file), 'utf8')) as Record<string, unknown>[];
