#!/usr/bin/env node
// Runs before `npm test` and `npm run demo`: on a fresh clone (or after package-lock.json changed)
// it installs the dependencies, so the README's quick start is two commands and nothing else.
const { existsSync, statSync } = require('node:fs');
const { execSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  process.stderr.write('mlpipe: installing dependencies (npm ci)…\n');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

// `npm test` only: a few integration tests drive the local cloud with the real AWS CLI, as a user
// would (`aws s3 cp` into the raw bucket, say). Debian's awscli puts it at /usr/bin/aws.
if (process.argv.includes('--test') && !existsSync('/usr/bin/aws')) {
  process.stderr.write("mlpipe: installing Debian's awscli for the tests that use the AWS CLI…\n");
  try {
    execSync('apt-get update -qq && apt-get install -y -qq --no-install-recommends awscli', {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    process.stderr.write(
      'mlpipe: could not install awscli (apt-get needs root); the tests that run /usr/bin/aws will fail\n',
    );
  }
}
