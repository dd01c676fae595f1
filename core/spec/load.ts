import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import type * as z from 'zod';
import { type SpecProblem, SpecValidationError, UnknownPipelineError } from './errors';
import { type PipelineSpec, pipelineSpecSchema } from './schema';

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );

const describeInput = (input: unknown): string => {
  if (input === undefined) return 'nothing';
  const text = JSON.stringify(input);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

const toProblem = (issue: z.core.$ZodIssue): SpecProblem => {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return {
      path,
      message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
    };
  }
  const input = (issue as { input?: unknown }).input;
  const scalar = input === undefined || input === null || typeof input !== 'object';
  const got = scalar && issue.code !== 'custom' ? `, got ${describeInput(input)}` : '';
  return { path, message: `${issue.message}${got}` };
};

/** Parses and validates spec text. `file` names the source in every error message. */
export const parseSpec = (text: string, file: string): PipelineSpec => {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new SpecValidationError(
      file,
      doc.errors.map((e) => ({ path: '', message: `not valid YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SpecValidationError(file, [{ path: '', message: 'expected a YAML mapping at the top level' }]);
  }
  const result = pipelineSpecSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new SpecValidationError(file, result.error.issues.map(toProblem));
  return result.data;
};

export const loadSpecFile = (file: string, cwd = process.cwd()): PipelineSpec => {
  const shown = relative(cwd, file) || file;
  const spec = parseSpec(readFileSync(file, 'utf8'), shown);
  const expected = shown.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  if (spec.name !== expected) {
    throw new SpecValidationError(shown, [
      { path: 'name', message: `must match the file name "${expected}", got "${spec.name}"` },
    ]);
  }
  return spec;
};

export const specFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));

/** All specs of a folder by name; the first invalid file throws. */
export const loadSpecs = (dir: string): Map<string, PipelineSpec> =>
  new Map(
    specFiles(dir).map((f) => {
      const spec = loadSpecFile(f);
      return [spec.name, spec] as const;
    }),
  );

/**
 * The specs of a folder by pipeline name (a spec's file is named after its pipeline), each read and
 * validated the first time it is asked for, as the other functions read theirs: reading all four
 * of this repository's specs up front added ~25 ms to the stream function's cold start, for
 * pipelines its first batch did not name. `serverless deploy` and `mlpipe validate` check every one.
 */
export class SpecCatalog {
  private readonly files: ReadonlyMap<string, string>;
  private readonly specs = new Map<string, PipelineSpec>();
  constructor(readonly dir: string) {
    this.files = new Map(specFiles(dir).map((f) => [f.replace(/^.*\//, '').replace(/\.ya?ml$/, ''), f]));
  }
  get names(): string[] {
    return [...this.files.keys()];
  }
  /** The pipeline's spec, undefined when it has none; an invalid spec file throws. */
  find(name: string): PipelineSpec | undefined {
    let spec = this.specs.get(name);
    if (spec) return spec;
    const file = this.files.get(name);
    if (file === undefined) return undefined;
    spec = loadSpecFile(file);
    this.specs.set(name, spec);
    return spec;
  }
  get(name: string): PipelineSpec {
    const spec = this.find(name);
    if (!spec) throw new UnknownPipelineError(name, this.names);
    return spec;
  }
}
