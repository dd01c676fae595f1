import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { dirname, join } from 'node:path';
import { constants, Script } from 'node:vm';

/**
 * A V8 code cache for each bundle of the inference image. Compiling the stream handler's 2.1 MB
 * bundle, and the functions its first batch runs, is most of its cold start's JavaScript time: with
 * the bytecode V8 wrote at the image's build, its module load went from ~90 to ~55 ms, and the first
 * batch ~8 ms faster (`npm run bench -- infer`, cold start, which starts the bundle as Lambda
 * starts node).
 *
 * V8 takes a cache only from the same V8 version and the same flags. An image freezes the first:
 * the cache is made in the image's last stage, by its own node. For the second, the cache is made
 * in a node started as Lambda starts the function's: the bootstrap's command line for its memory
 * size (`lambdaNodeFlags`) through the image's start-node.sh (`lambdaStart`). A cache V8 refuses
 * costs only the read of the file: the bundle is then compiled as without one, and the function
 * logs a warning (`code cache rejected`).
 * https://v8.dev/blog/code-caching-for-devs
 */

/**
 * The flags Lambda's Node.js runtime starts node with for a function of `memoryMb`: its bootstrap
 * script in the runtime's base image sizes V8's heap from the memory (a tenth for the young
 * generation, split in two semi-spaces; the rest for the old one) and exposes the GC. Before node
 * 24 any V8 flag cost node its own modules' embedded code cache (~14 ms more to load http, tls,
 * crypto...); since, only `--expose-gc` does, and start-node.sh leaves it out.
 */
export const lambdaNodeFlags = (memoryMb: number): string[] => {
  const newSpace = Math.floor(memoryMb / 10);
  return [
    '--expose-gc',
    '--max-http-header-size=81920',
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memoryMb - newSpace}`,
  ];
};

/**
 * V8 checks that a cache belongs to its source by the source's length only: a cache is named by a
 * digest of its bundle, so one left from another build is never read.
 */
export const bundleDigest = (source: string | Buffer) =>
  createHash('sha256').update(source).digest('hex').slice(0, 16);

export const codeCacheOf = (bundle: string, digest: string) => `${bundle}.${digest}.cache`;

export type CodeCacheUse = 'accepted' | 'rejected' | 'absent';

/**
 * Runs a CommonJS bundle as `require` would, compiled with its code cache when V8 takes it. The
 * bundle may not `import()` (functions/infer/bundle.ts turns those into `require`): code V8 reads
 * from a cache has lost the callback a dynamic import needs.
 */
export const loadBundle = (bundle: string, digest: string) => {
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(codeCacheOf(bundle, digest));
  } catch {
    // No cache (a bundle built for a test or the bench without one): compiled as usual.
  }
  const script = new Script(wrap(readFileSync(bundle, 'utf8')), {
    filename: bundle,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as Record<string, unknown> };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  const cache: CodeCacheUse = !cachedData ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
  if (cache === 'rejected') {
    // In the shape of Powertools' log lines, so a log search finds it beside the function's own.
    console.warn(
      JSON.stringify({
        level: 'WARN',
        message: 'code cache rejected',
        bundle,
        reason: 'V8 refused the code cache: another node version or other flags than at its build',
        flags: process.execArgv,
      }),
    );
  }
  return { exports: module.exports, cache, script };
};

/** Beside the bundles: the image's specs, compiled as the code caches are made (core/spec/load.ts). */
export const COMPILED_SPECS = 'specs.json';

/**
 * Beside the bundles: how the image starts node (the Dockerfile's AWS_LAMBDA_EXEC_WRAPPER), from
 * functions/infer/start-node.sh.
 */
export const NODE_START = 'start-node.sh';

/** Beside start-node.sh: the allocator it runs node on when there (mimalloc, from Debian's package). */
export const NODE_ALLOCATOR = 'libmimalloc.so.2';

/** A process to start: `file` with `args`, to which the script to run and its arguments are added. */
export interface NodeStart {
  readonly file: string;
  readonly args: readonly string[];
}

/**
 * A node started as Lambda starts an instance of the image in `dir` for a function of `memoryMb`:
 * the bootstrap's command line (`node` and `lambdaNodeFlags`) handed to the image's start-node.sh.
 */
export const lambdaStart = (dir: string, memoryMb: number, node = process.execPath): NodeStart => ({
  file: join(dir, NODE_START),
  args: [node, ...lambdaNodeFlags(memoryMb)],
});

/** Beside the bundles: the memory size of each entry point's function, from its function.yml. */
export const CODE_CACHE_PLAN = 'code-cache.json';
export type CodeCachePlan = Record<string, number>;

/** The plan beside the bundles in `dir`. */
export const readCodeCachePlan = (dir: string): CodeCachePlan =>
  JSON.parse(readFileSync(join(dir, CODE_CACHE_PLAN), 'utf8')) as CodeCachePlan;

/** How Lambda starts node for `entry`'s function from the image in `dir`, by the plan beside it. */
export const entryStart = (dir: string, entry: string, node = process.execPath): NodeStart => {
  const memoryMb = readCodeCachePlan(dir)[entry];
  if (memoryMb === undefined) throw new Error(`${CODE_CACHE_PLAN} gives ${entry} no memory size`);
  return lambdaStart(dir, memoryMb, node);
};
