import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
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

// The YAML parser is loaded on first use: a function that reads its specs compiled (SpecCatalog)
// never needs it, and loading it was part of the inference image's cold start.
let yaml: typeof import('yaml') | undefined;
const yamlParser = () => {
  yaml ??= require('yaml') as typeof import('yaml');
  return yaml;
};

/** Parses and validates spec text. `file` names the source in every error message. */
export const parseSpec = (text: string, file: string): PipelineSpec => {
  const doc = yamlParser().parseDocument(text, { prettyErrors: true });
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
  const result = pipelineSpecSchema().safeParse(raw, { reportInput: true });
  if (!result.success) throw new SpecValidationError(file, result.error.issues.map(toProblem));
  return result.data;
};

export const loadSpecFile = (file: string, cwd = process.cwd()): PipelineSpec =>
  specOfText(readFileSync(file, 'utf8'), file, cwd);

/** The pipeline a spec file is for: its name, without the folder and the extension. */
const pipelineOfFile = (file: string) => file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');

const specOfText = (text: string, file: string, cwd = process.cwd()): PipelineSpec => {
  const shown = relative(cwd, file) || file;
  const spec = parseSpec(text, shown);
  const expected = pipelineOfFile(shown);
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

/** The pipelines a folder has a spec file for, by name, without reading the files. */
export const pipelineNames = (dir: string): string[] => specFiles(dir).map(pipelineOfFile);

/** All specs of a folder by name; the first invalid file throws. */
export const loadSpecs = (dir: string): Map<string, PipelineSpec> =>
  new Map(
    specFiles(dir).map((f) => {
      const spec = loadSpecFile(f);
      return [spec.name, spec] as const;
    }),
  );

/**
 * A folder's specs as validated at a build, each beside the SHA-256 of the text it was read from,
 * so a catalog takes one only while its file still says the same. The inference image carries
 * them: parsing the flights spec's YAML and validating it took ~8 ms of the stream function's
 * first batch, and the parser ~260 KB of its bundle.
 */
export interface CompiledSpecs {
  readonly format: 'mlpipe-specs/1';
  readonly specs: Readonly<Record<string, { readonly sha256: string; readonly spec: PipelineSpec }>>;
}

const textDigest = (text: string) => createHash('sha256').update(text).digest('hex');

/** Reads and validates every spec of `dir`; the first invalid file throws. */
export const compileSpecs = (dir: string): CompiledSpecs => ({
  format: 'mlpipe-specs/1',
  specs: Object.fromEntries(
    specFiles(dir).map((file) => {
      const text = readFileSync(file, 'utf8');
      const spec = specOfText(text, file);
      return [spec.name, { sha256: textDigest(text), spec }];
    }),
  ),
});

/** A file's text; undefined when there is no such file. */
const textOf = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/** The compiled specs in `file`; undefined when there is no such file. */
export const readCompiledSpecs = (file: string): CompiledSpecs | undefined => {
  const text = textOf(file);
  if (text === undefined) return undefined;
  const compiled = JSON.parse(text) as CompiledSpecs;
  if (compiled.format !== 'mlpipe-specs/1')
    throw new SpecValidationError(file, [
      { path: 'format', message: `expected "mlpipe-specs/1", got ${JSON.stringify(compiled.format)}` },
    ]);
  return compiled;
};

const specOfTextOrCompiled = (
  text: string,
  file: string,
  name: string,
  compiled: CompiledSpecs | undefined,
): PipelineSpec => {
  const found = compiled?.specs[name];
  return found && found.sha256 === textDigest(text) ? found.spec : specOfText(text, file);
};

/** Where `serverless package` leaves a pipelines folder's specs compiled (infra/compiled-specs.js). */
export const compiledSpecsFile = (dir: string): string => join(dir, '.compiled.json');

/**
 * Compiles the specs of `dir` into its compiledSpecsFile; the first invalid spec throws. Written
 * aside and renamed, so a function starting meanwhile reads the old file or the new one, whole.
 */
export const writeCompiledSpecs = (dir: string): string => {
  const file = compiledSpecsFile(dir);
  const aside = `${file}.${process.pid}`;
  writeFileSync(aside, `${JSON.stringify(compileSpecs(dir))}\n`);
  renameSync(aside, file);
  return file;
};

/**
 * `dir`/<name>.yml, read now (an edit is seen at once), or undefined when there is none; taken as
 * compiled, without the YAML parser or the schema, while its text is the one compiled.
 */
export const readPipelineSpec = (
  dir: string,
  name: string,
  compiled?: CompiledSpecs,
): PipelineSpec | undefined => {
  const file = join(dir, `${name}.yml`);
  const text = textOf(file);
  return text === undefined ? undefined : specOfTextOrCompiled(text, file, name, compiled);
};

/**
 * The specs of a folder by pipeline name (a spec's file is named after its pipeline), each read and
 * validated the first time it is asked for, as the other functions read theirs: reading all four
 * of this repository's specs up front added ~25 ms to the stream function's cold start, for
 * pipelines its first batch did not name. `serverless deploy` and `mlpipe validate` check every one.
 * A spec in `compiled` is taken as it is while its file's text is the one it was compiled from.
 */
export class SpecCatalog {
  private readonly files: ReadonlyMap<string, string>;
  private readonly specs = new Map<string, PipelineSpec>();
  constructor(
    readonly dir: string,
    private readonly compiled?: CompiledSpecs,
  ) {
    this.files = new Map(specFiles(dir).map((f) => [pipelineOfFile(f), f]));
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
    spec = specOfTextOrCompiled(readFileSync(file, 'utf8'), file, name, this.compiled);
    this.specs.set(name, spec);
    return spec;
  }
  get(name: string): PipelineSpec {
    const spec = this.find(name);
    if (!spec) throw new UnknownPipelineError(name, this.names);
    return spec;
  }
}
