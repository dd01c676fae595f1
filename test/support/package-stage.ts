import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = resolve(__dirname, '..', '..');

export type CfnTemplate = {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }>;
};

/**
 * Runs `serverless package --stage <stage>` exactly as a user would, with no AWS credentials
 * reachable, and returns the generated CloudFormation template.
 */
export const packageStage = async (stage: string): Promise<CfnTemplate> => {
  const out = mkdtempSync(join(tmpdir(), `mlpipe-package-${stage}-`));
  const home = mkdtempSync(join(tmpdir(), 'mlpipe-home-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
  try {
    await run(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/osls/bin/serverless.js'), 'package', '--stage', stage, '--package', out],
      {
        cwd: REPO_ROOT,
        env,
        maxBuffer: 16 * 2 ** 20,
      },
    );
    return JSON.parse(
      readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as CfnTemplate;
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
};
