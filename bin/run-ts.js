#!/usr/bin/env node
// Runs one TypeScript file (benchmarks, scripts) through tsx without a build step.
require('tsx/cjs');
const path = require('node:path');
const file = process.argv[2];
if (!file) {
  console.error('usage: run-ts.js <file.ts> [args…]');
  process.exit(2);
}
process.argv.splice(1, 1);
require(path.resolve(file));
