import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { inferenceSourceFolders } from '../../../functions/infer/bundle';
import {
  bundleDigest,
  lambdaNodeFlags,
  lambdaStart,
  NODE_ALLOCATOR,
  NODE_START,
} from '../../../functions/infer/code-cache';

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

  it('starts node through start-node.sh with the bootstrap’s command line less --expose-gc, the heap as sized, the young generation at 16 MB', () => {
    const start = lambdaStart(join(__dirname, '../../../functions/infer'), 2048);
    expect(start.file.endsWith(`functions/infer/${NODE_START}`)).toBe(true);
    expect(start.args).toEqual([process.execPath, ...lambdaNodeFlags(2048)]);
    // As Lambda's bootstrap hands it over: node, its options (one taking a separate value), the script.
    const script = `const v8 = require('node:v8'); console.log(JSON.stringify({ execArgv: process.execArgv, args: process.argv.slice(1), gc: typeof gc, heapMb: v8.getHeapStatistics().heap_size_limit / 2 ** 20, youngMb: v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20 }))`;
    const kept = [
      '--max-http-header-size',
      '81920',
      '--max-semi-space-size=102',
      '--max-old-space-size=1844',
    ];
    const { stdout, status, stderr } = spawnSync(
      start.file,
      [process.execPath, '--expose-gc', ...kept, '-e', script, 'an argument'],
      { encoding: 'utf8' },
    );
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    const seen = JSON.parse(stdout) as {
      execArgv: string[];
      args: string[];
      gc: string;
      heapMb: number;
      youngMb: number;
    };
    expect(seen.execArgv).toEqual(['--min-semi-space-size=16', ...kept, '-e', script]);
    expect(seen.youngMb).toBeGreaterThanOrEqual(16);
    expect(seen.args).toEqual(['an argument']);
    expect(seen.gc).toBe('undefined');
    expect(seen.heapMb).toBeGreaterThanOrEqual(1844);
  });

  it('runs node on the allocator beside start-node.sh when the image has one, and on glibc’s when not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-start-'));
    try {
      copyFileSync(join(__dirname, '../../../functions/infer', NODE_START), join(dir, NODE_START));
      const script = `const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8'); console.log(JSON.stringify({ preload: process.env.LD_PRELOAD ?? null, mapped: maps.includes(${JSON.stringify(join(dir, NODE_ALLOCATOR))}) }))`;
      const run = () => {
        const { stdout, status, stderr } = spawnSync(
          'sh',
          [join(dir, NODE_START), process.execPath, '-e', script],
          {
            encoding: 'utf8',
            env: Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'LD_PRELOAD')),
          },
        );
        expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
        return JSON.parse(stdout) as { preload: string | null; mapped: boolean };
      };
      expect(run()).toEqual({ preload: null, mapped: false });
      // A stand-in for mimalloc: a library node loads anyway (libm), so preloading it changes nothing else.
      const libm = /\/\S*\/libm\.so\S*/.exec(readFileSync('/proc/self/maps', 'utf8'))?.[0];
      expect(libm).toBeDefined();
      copyFileSync(libm as string, join(dir, NODE_ALLOCATOR));
      expect(run()).toEqual({ preload: join(dir, NODE_ALLOCATOR), mapped: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is how the image starts node, on a node whose V8 keeps its own cache under the heap flags', () => {
    const dockerfile = readFileSync(join(__dirname, '../../../functions/infer/Dockerfile'), 'utf8');
    // The bundles' folder (dist/functions) lands in the task root, start-node.sh beside the bundles.
    expect(dockerfile).toMatch(
      /^COPY --from=build \/build\/dist\/functions \$\{LAMBDA_TASK_ROOT\}\/functions$/m,
    );
    expect(/^ENV AWS_LAMBDA_EXEC_WRAPPER=(.+)$/m.exec(dockerfile)?.[1]).toBe(
      `\${LAMBDA_TASK_ROOT}/functions/infer/${NODE_START}`,
    );
    // mimalloc, where start-node.sh looks for it.
    expect(dockerfile).toMatch(
      /^RUN apt-get update \\\n && apt-get install -y --no-install-recommends libmimalloc2\.0 /m,
    );
    expect(dockerfile).toContain(
      `COPY --from=build /usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0 \${LAMBDA_TASK_ROOT}/functions/infer/${NODE_ALLOCATOR}\n`,
    );
    expect(readFileSync(join(__dirname, '../../../functions/infer', NODE_START), 'utf8')).toContain(
      `allocator="\${0%/*}/${NODE_ALLOCATOR}"`,
    );
    // Before node 24, the bootstrap's heap flags alone cost node its modules' cache (code-cache.ts).
    const major = Number(/^FROM public\.ecr\.aws\/lambda\/nodejs:(\d+)$/m.exec(dockerfile)?.[1]);
    expect(major).toBeGreaterThanOrEqual(24);
  });

  it('is built in the image from every folder its bundles import from', async () => {
    const dockerfile = readFileSync(join(__dirname, '../../../functions/infer/Dockerfile'), 'utf8');
    const buildStage = dockerfile.slice(
      dockerfile.indexOf(' AS build'),
      dockerfile.indexOf('\nFROM ', dockerfile.indexOf(' AS build')),
    );
    const copied = [...buildStage.matchAll(/^COPY (\S+) \.\/(\S+)$/gm)].map((m) => m[1]);
    const folders = await inferenceSourceFolders();
    expect(folders).toEqual(expect.arrayContaining(['core', 'functions', 'trainers']));
    expect(copied).toEqual(expect.arrayContaining(folders));
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
