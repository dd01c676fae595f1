import { join, resolve } from 'node:path';
import { build } from 'esbuild';

/**
 * The inference image's bundles: the stream, HTTPS and batch entry points, built one way for the
 * Dockerfile (`npx tsx functions/infer/bundle.ts`), the infer bench and the test that runs the
 * bundle, so what is measured and tested is what ships. The native engines stay packages: the image
 * carries them pruned by layers/build.js.
 */
const ROOT = join(__dirname, '..', '..');
export const INFERENCE_ENTRY_POINTS = ['stream-handler', 'http-handler', 'batch-handler'] as const;

/** The target for a bundle run here, by this machine's Node (the image's is node22). */
export const THIS_NODE = `node${process.versions.node.split('.')[0]}`;

/**
 * Bundles into `outdir`/functions/infer/<entry point>.js. Dependencies come from their ES module
 * builds where they ship one (`mainFields`), which esbuild can prune to what the function uses; it
 * cannot prune a CommonJS build. The stream handler's bundle went from 2.6 to 2.1 MB and its module
 * load from ~110 to ~95 ms (`npm run bench -- infer`, cold start).
 * https://esbuild.github.io/api/#main-fields
 */
export const bundleInference = async ({ outdir, target = 'node22' }: { outdir: string; target?: string }) => {
  await build({
    entryPoints: INFERENCE_ENTRY_POINTS.map((name) => join(ROOT, 'functions', 'infer', `${name}.ts`)),
    bundle: true,
    platform: 'node',
    target,
    mainFields: ['module', 'main'],
    outbase: ROOT,
    outdir,
    sourcemap: true,
    external: ['onnxruntime-node', '@duckdb/node-api', '@duckdb/node-bindings'],
    logLevel: 'warning',
  });
  return (name: (typeof INFERENCE_ENTRY_POINTS)[number]) => join(outdir, 'functions', 'infer', `${name}.js`);
};

// Run as a script (the Dockerfile's build stage), not when imported.
if (resolve(process.argv[1] ?? '') === __filename) {
  bundleInference({ outdir: join(ROOT, 'dist') }).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
