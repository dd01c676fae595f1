import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { CfnTemplate } from './intrinsics';

const run = promisify(execFile);
export const REPO_ROOT = resolve(__dirname, '..', '..');

/**
 * `serverless package --stage <stage>` exactly as a user runs it, offline and with no AWS credentials
 * reachable, and the CloudFormation template it generates: the one description of every resource,
 * which the local cloud provisions from and the template tests check.
 */
export const packageStage = async (
  stage: string,
  out?: string,
  { templateOnly = false }: { templateOnly?: boolean } = {},
): Promise<CfnTemplate> => {
  const dir = out ?? mkdtempSync(join(tmpdir(), `mlpipe-package-${stage}-`));
  const home = mkdtempSync(join(tmpdir(), 'mlpipe-home-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    ...(templateOnly ? { MLPIPE_TEMPLATE_ONLY: '1' } : {}),
    ...(process.env.MLPIPE_BUCKET_PREFIX ? { MLPIPE_BUCKET_PREFIX: process.env.MLPIPE_BUCKET_PREFIX } : {}),
  };
  try {
    await run(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/osls/bin/serverless.js'), 'package', '--stage', stage, '--package', dir],
      { cwd: REPO_ROOT, env, maxBuffer: 16 * 2 ** 20 },
    );
    return JSON.parse(
      readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as CfnTemplate;
  } finally {
    if (!out) rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
};
