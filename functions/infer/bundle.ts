import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { parse } from 'yaml';
import { bundleDigest, CODE_CACHE_PLAN, type CodeCachePlan, entryStart, NODE_START } from './code-cache';

/**
 * The inference image's bundles: the stream, HTTPS and batch entry points, built one way for the
 * Dockerfile (`npx tsx functions/infer/bundle.ts`), the infer bench and the test that runs the
 * bundle, so what is measured and tested is what ships. The native engines stay packages: the image
 * carries them pruned by layers/build.js.
 */
const ROOT = join(__dirname, '..', '..');
export const INFERENCE_ENTRY_POINTS = ['stream-handler', 'http-handler', 'batch-handler'] as const;

/** The target for a bundle run here, by this machine's Node (the image's is node24). */
export const THIS_NODE = `node${process.versions.node.split('.')[0]}`;

/**
 * Bundles into `outdir`/functions/infer/<entry point>.bundle.js, beside the handler Lambda loads,
 * <entry point>.js, which runs its bundle with the bundle's V8 code cache (code-cache.ts) once
 * `makeCodeCaches` or the image's build has made it. Dependencies come from their ES module
 * builds where they ship one (`mainFields`), which esbuild can prune to what the function uses; it
 * cannot prune a CommonJS build. The stream handler's bundle went from 2.6 to 2.1 MB and its module
 * load from ~110 to ~95 ms (`npm run bench -- infer`, cold start).
 * https://esbuild.github.io/api/#main-fields
 */
export const bundleInference = async ({ outdir, target = 'node24' }: { outdir: string; target?: string }) => {
  const dir = join(outdir, 'functions', 'infer');
  await build(buildOptions(outdir, target));
  // The handler Lambda loads (functions/infer/<entry point>.handler) runs its bundle with the cache.
  for (const name of INFERENCE_ENTRY_POINTS) {
    const digest = bundleDigest(readFileSync(join(dir, `${name}.bundle.js`)));
    writeFileSync(
      join(dir, `${name}.js`),
      `'use strict';\n// ${name}.bundle.js, compiled from its V8 code cache when V8 takes it (code-cache.bundle.js).\nmodule.exports = require('./code-cache.bundle.js').loadBundle(require('node:path').join(__dirname, '${name}.bundle.js'), '${digest}').exports;\n`,
    );
  }
  writeFileSync(join(dir, CODE_CACHE_PLAN), JSON.stringify(codeCachePlan()));
  // How the image starts node (the Dockerfile's AWS_LAMBDA_EXEC_WRAPPER), beside the bundles.
  copyFileSync(join(ROOT, 'functions', 'infer', NODE_START), join(dir, NODE_START));
  chmodSync(join(dir, NODE_START), 0o755);
  return (name: (typeof INFERENCE_ENTRY_POINTS)[number]) => join(dir, `${name}.js`);
};

const buildOptions = (outdir: string, target: string): BuildOptions => ({
  entryPoints: [...INFERENCE_ENTRY_POINTS, 'code-cache', 'make-code-cache'].map((name) =>
    join(ROOT, 'functions', 'infer', `${name}.ts`),
  ),
  entryNames: '[dir]/[name].bundle',
  bundle: true,
  platform: 'node',
  target,
  mainFields: ['module', 'main'],
  // `import()` becomes `require`: code compiled from a V8 code cache cannot import (code-cache.ts).
  supported: { 'dynamic-import': false },
  absWorkingDir: ROOT,
  outbase: ROOT,
  outdir,
  sourcemap: true,
  external: ['onnxruntime-node', '@duckdb/node-api', '@duckdb/node-bindings'],
  logLevel: 'warning',
});

/**
 * The repository's top-level folders the bundles are built from (node_modules aside): what the
 * Dockerfile's build stage must copy in.
 */
export const inferenceSourceFolders = async (): Promise<string[]> => {
  const { metafile } = await build({
    ...buildOptions(join(ROOT, 'dist'), 'node24'),
    write: false,
    metafile: true,
  });
  return [
    ...new Set(
      Object.keys(metafile.inputs)
        .map((input) => input.split('/')[0] as string)
        .filter((folder) => folder !== 'node_modules'),
    ),
  ].sort();
};

/** Each entry point's memory size, from the function.yml that runs it (`image.command`). */
const codeCachePlan = (): CodeCachePlan => {
  const { functions } = parse(readFileSync(join(ROOT, 'functions', 'infer', 'function.yml'), 'utf8')) as {
    functions: Record<string, { image: { command: string[] }; memorySize: number }>;
  };
  const plan: CodeCachePlan = {};
  for (const fn of Object.values(functions)) {
    const entry = fn.image.command[0]?.match(/^functions\/infer\/(.+)\.handler$/)?.[1];
    if (entry) plan[entry] = fn.memorySize;
  }
  return plan;
};

/** The memory (MB) of the function an entry point runs as, by its function.yml. */
export const entryMemoryMb = (name: (typeof INFERENCE_ENTRY_POINTS)[number]): number => {
  const memory = codeCachePlan()[name];
  if (memory === undefined) throw new Error(`functions/infer/function.yml runs no function from ${name}`);
  return memory;
};

/**
 * How Lambda starts node for an entry point's function from the bundles in `outdir` (code-cache.ts,
 * `entryStart`): `node` (this one by default) through the image's start-node.sh.
 */
export const lambdaStartOf = (
  outdir: string,
  name: (typeof INFERENCE_ENTRY_POINTS)[number],
  node = process.execPath,
) => entryStart(join(outdir, 'functions', 'infer'), name, node);

/**
 * Makes the bundles' code caches with `node` (this machine's by default), as the image's last stage
 * does with its own (`node functions/infer/make-code-cache.bundle.js make <pipelines dir>`).
 */
export const makeCodeCaches = (
  outdir: string,
  pipelinesDir = join(ROOT, 'pipelines'),
  node = process.execPath,
) =>
  execFileSync(
    node,
    [join(outdir, 'functions', 'infer', 'make-code-cache.bundle.js'), 'make', pipelinesDir],
    // Where the image has its packages, beside the bundles; here, the repository's.
    { encoding: 'utf8', env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') } },
  );

// Run as a script (the Dockerfile's build stage), not when imported.
if (resolve(process.argv[1] ?? '') === __filename) {
  bundleInference({ outdir: join(ROOT, 'dist') }).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
