#!/usr/bin/env node
// Puts back the other platforms' native packages that `npm install` leaves out of package-lock.json.
//
// Why: the registry this project is built against serves only the Linux x64 builds of some native
// packages (Biome, SWC, DuckDB, unrs-resolver). `npm install` then writes a lock file without the
// other platforms' optional packages, and `npm ci` refuses that lock file as out of sync with
// package.json ("Missing: @biomejs/cli-darwin-arm64@ from lock file"). Each restored entry carries
// the `os` / `cpu` / `libc` its name encodes, so `npm ci` skips it on every other platform and
// fetches it on its own. Run after any dependency change: `node bin/complete-lock.js`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = [
  'aix',
  'android',
  'darwin',
  'freebsd',
  'linux',
  'netbsd',
  'openbsd',
  'openharmony',
  'sunos',
  'win32',
];
const CPU = {
  arm64: 'arm64',
  x64: 'x64',
  ia32: 'ia32',
  arm: 'arm',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips64el: 'mips64el',
  wasm32: 'wasm32',
};

/** @returns {{os: string[], cpu: string[], libc?: string[]} | undefined} */
function platformOf(name) {
  const tokens = name.split('/').pop().split('-');
  const os = tokens.find((t) => OS.includes(t));
  const cpu = tokens.map((t) => CPU[t]).find(Boolean);
  if (!os || !cpu) return undefined;
  const platform = { os: [os], cpu: [cpu] };
  if (os === 'linux') {
    if (tokens.some((t) => t.startsWith('musl'))) platform.libc = ['musl'];
    else if (tokens.some((t) => t.startsWith('gnu') || t === 'glibc')) platform.libc = ['glibc'];
  }
  return platform;
}

let added = 0;
for (const [location, entry] of Object.entries(packages)) {
  if (!entry.optionalDependencies || location === '') continue;
  const parentDir = location.slice(0, location.lastIndexOf('node_modules/'));
  for (const [dep, spec] of Object.entries(entry.optionalDependencies)) {
    const nested = `${location}/node_modules/${dep}`;
    const hoisted = `${parentDir}node_modules/${dep}`;
    const top = `node_modules/${dep}`;
    if (packages[nested] || packages[hoisted] || packages[top]) continue;
    const platform = platformOf(dep);
    // Only exact-version platform builds are restored; other optional dependencies stay as npm left them.
    if (!platform || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue;
    packages[hoisted] = {
      version: spec,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platform,
    };
    added += 1;
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lock: restored ${added} platform package entr${added === 1 ? 'y' : 'ies'}`);
