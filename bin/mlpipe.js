#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so a fresh clone works after `npm ci` with no build step.
require('tsx/cjs');
require('../cli/main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
