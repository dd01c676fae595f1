import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { bundleDigest, lambdaNodeFlags } from '../../../functions/infer/code-cache';

/**
 * The loader as the image runs it: bundled, in processes of their own, since a cache only counts in
 * a fresh V8 (one that already compiled the source never reads it).
 */
describe('the inference bundles’ code cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-code-cache-'));
  const loader = join(dir, 'code-cache.js');
  const bundle = join(dir, 'handler.bundle.js');
  const FLAGS = lambdaNodeFlags(2048);

  beforeAll(() => {
    buildSync({
      entryPoints: [join(__dirname, '../../../functions/infer/code-cache.ts')],
      bundle: true,
      platform: 'node',
      outfile: loader,
      logLevel: 'warning',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Loads the bundle in a new node with `flags`; with `make`, then writes its cache as the build does. */
  const load = (source: string, flags: string[], make = false) => {
    writeFileSync(bundle, source);
    const script = `const l = require(${JSON.stringify(loader)});
      const r = l.loadBundle(${JSON.stringify(bundle)}, ${JSON.stringify(bundleDigest(source))});
      const answer = r.exports.answer();
      if (${make}) require('node:fs').writeFileSync(l.codeCacheOf(${JSON.stringify(bundle)}, ${JSON.stringify(bundleDigest(source))}), r.script.createCachedData());
      console.log(JSON.stringify({ cache: r.cache, answer }));`;
    const { stdout, stderr, status } = spawnSync(process.execPath, [...flags, '-e', script], {
      encoding: 'utf8',
    });
    if (status !== 0) throw new Error(`the loader failed: ${stderr}`);
    return { ...(JSON.parse(stdout) as { cache: string; answer: number }), stderr };
  };

  it('gives the flags Lambda’s Node.js runtime starts node with for a memory size', () => {
    expect(lambdaNodeFlags(2048)).toEqual([
      '--expose-gc',
      '--max-http-header-size=81920',
      '--max-semi-space-size=102',
      '--max-old-space-size=1844',
    ]);
    expect(lambdaNodeFlags(3008)).toContain('--max-semi-space-size=150');
    expect(lambdaNodeFlags(3008)).toContain('--max-old-space-size=2708');
  });

  it('compiles a bundle from the cache made under the same flags', () => {
    const source = 'module.exports = { answer: () => 6 * 7 };\n';
    expect(load(source, FLAGS, true)).toMatchObject({ cache: 'absent', answer: 42 });
    expect(load(source, FLAGS)).toEqual({ cache: 'accepted', answer: 42, stderr: '' });
  });

  it('says so, and compiles as without a cache, when V8 refuses one made under other flags', () => {
    const source = 'module.exports = { answer: () => 6 * 8 };\n';
    load(source, FLAGS, true);
    const other = load(source, ['--max-semi-space-size=1']);
    expect(other).toMatchObject({ cache: 'rejected', answer: 48 });
    expect(JSON.parse(other.stderr)).toMatchObject({ level: 'WARN', message: 'code cache rejected', bundle });
  });

  it('never reads the cache of another build of the bundle, though V8 would take it by its length', () => {
    load('module.exports = { answer: () => 6 * 7 };\n', FLAGS, true);
    expect(load('module.exports = { answer: () => 6 * 9 };\n', FLAGS)).toEqual({
      cache: 'absent',
      answer: 54,
      stderr: '',
    });
  });
});
