// Lambda layers for the native engines the zip functions share, assembled from node_modules at
// packaging time and pruned to the Lambda platform (linux x64): DuckDB (ingest, evaluate) and
// onnxruntime-node (evaluate). serverless.yml resolves `${file(./layers/build.js):<name>}` to the
// folder, building it first; a folder already built for the same package versions is reused.
// Layers are laid out as nodejs/node_modules/…: https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html
const { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const modules = join(root, 'node_modules');
const out = join(root, '.build', 'layers');

const version = (name) => JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')).version;

const LAYERS = {
  duckdb: {
    packages: ['@duckdb/node-api', '@duckdb/node-bindings', '@duckdb/node-bindings-linux-x64', 'detect-libc'],
    prune: () => [],
  },
  onnxruntime: {
    packages: ['onnxruntime-node', 'onnxruntime-common'],
    // Every other platform's binaries (about 240 MB) and the install script's downloader.
    prune: (dir) => {
      const bin = join(dir, 'onnxruntime-node', 'bin', 'napi-v6');
      return [
        join(bin, 'darwin'),
        join(bin, 'win32'),
        join(bin, 'linux', 'arm64'),
        join(dir, 'onnxruntime-node', 'script'),
      ];
    },
  },
};

const build = (name) => {
  const layer = LAYERS[name];
  const dir = join(out, name);
  const stamp = join(dir, 'versions.json');
  const versions = JSON.stringify(layer.packages.map((p) => [p, version(p)]));
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === versions) return dir;
  rmSync(dir, { recursive: true, force: true });
  const target = join(dir, 'nodejs', 'node_modules');
  mkdirSync(target, { recursive: true });
  for (const p of layer.packages)
    cpSync(join(modules, p), join(target, p), { recursive: true, dereference: true });
  for (const path of layer.prune(target)) rmSync(path, { recursive: true, force: true });
  writeFileSync(stamp, versions);
  return dir;
};

// serverless joins a layer's path to the service folder, so it must be relative.
const relativePath = (dir) => relative(root, dir);

// The local cloud packages only the template (MLPIPE_TEMPLATE_ONLY=1) and runs handlers from source
// with node_modules, so a layer there is a placeholder rather than 117 MB zipped on every start.
const placeholder = (name) => {
  const dir = join(out, 'template-only', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'README'), `${name}: not built for a template-only package\n`);
  return dir;
};

const layer = (name) => () =>
  relativePath(process.env.MLPIPE_TEMPLATE_ONLY === '1' ? placeholder(name) : build(name));

module.exports.duckdb = layer('duckdb');
module.exports.onnxruntime = layer('onnxruntime');
