import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DEFAULT_LOCAL_PORT, startLocalCloud } from '../../local/cloud';
import { runningCloud } from '../../local/presence';
import { localClientConfig } from '../../local/types';
import { DEFAULT_LOCAL_DATA_DIR, requireRunningCloud } from '../aws';
import { type CliCommand, type CliIo, UsageError } from '../command';
import { parseArgs } from '../options';
import { followExecution, formatProgress } from '../run/follow';
import { executionStatuses, findExecution, formatStatus } from '../run/local-status';

const serve = async (dataDir: string, port: number, stage: string, io: CliIo): Promise<number> => {
  const started = Date.now();
  const cloud = await startLocalCloud({
    dataDir,
    port,
    stage,
    onLog: (l) => io.out(`[${l.functionName}] ${l.line}`),
    onNotification: (o) => {
      if (!o.ok) io.err(`S3 → ${o.functionName} failed after ${o.attempts} attempts: ${o.error}`);
    },
  });
  io.out(`mlpipe local cloud up in ${Date.now() - started} ms (stage ${stage}, data in ${dataDir})`);
  const endpoints = Object.entries(cloud.endpoints);
  const width = Math.max(...endpoints.map(([service]) => service.length));
  for (const [service, url] of endpoints) io.out(`  ${service.padEnd(width)} ${url}`);
  io.out(
    `  ${cloud.plan.buckets.length} buckets, ${cloud.plan.streams.length} streams, ${cloud.plan.functions.length} functions`,
  );
  io.out(`source ${dataDir}/endpoints.env to point the AWS SDK or CLI at it; Ctrl-C stops it`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.out('stopping…');
  await cloud.stop();
  return 0;
};

/** `status`: every execution and where it is; with one execution, its progress state by state. */
const status = async (dataDir: string, execution: string | undefined, io: CliIo): Promise<number> => {
  const cloud = await requireRunningCloud(dataDir);
  const sfn = new SFNClient(localClientConfig(cloud.endpoints.SFN ?? ''));
  try {
    if (execution === undefined) {
      const statuses = await executionStatuses(sfn);
      io.out(
        `local cloud on ${dataDir} (stage ${cloud.stage}, pid ${cloud.pid}): ${statuses.length} execution${statuses.length === 1 ? '' : 's'}`,
      );
      for (const s of statuses) io.out(`  ${formatStatus(s)}`);
      return 0;
    }
    const found = await findExecution(sfn, execution);
    if (!found) throw new UsageError(`no execution named ${execution} in the local cloud on ${dataDir}`);
    io.out(`${found.stateMachine}:${found.name}`);
    const done = await followExecution(sfn, found.arn, {
      pollMs: 500,
      onProgress: (p) => io.out(formatProgress(p)),
    });
    io.out(`${done.status}${done.error ? ` — ${done.error}: ${done.cause ?? ''}` : ''}`);
    return done.status === 'SUCCEEDED' ? 0 : 1;
  } finally {
    sfn.destroy();
  }
};

/** `reset`: wipes a stopped cloud's data folder, and refuses anything that is not one. */
const reset = async (dataDir: string, io: CliIo): Promise<number> => {
  const cloud = await runningCloud(dataDir);
  if (cloud) throw new UsageError(`a local cloud is running on ${dataDir} (pid ${cloud.pid}): stop it first`);
  if (!existsSync(dataDir)) {
    io.out(`nothing to reset: ${dataDir} does not exist`);
    return 0;
  }
  // A typo such as --data-dir ~ must not delete a home folder: only a cloud's folder is wiped.
  if (readdirSync(dataDir).length > 0 && !existsSync(join(dataDir, 'endpoints.env')))
    throw new UsageError(
      `${dataDir} is not a local cloud's data folder (it has no endpoints.env); not touched`,
    );
  rmSync(dataDir, { recursive: true, force: true });
  io.out(`reset: removed ${dataDir} (objects, streams, executions, training jobs, registry)`);
  return 0;
};

export const command: CliCommand = {
  name: 'local',
  summary:
    'Run the local cloud in the foreground (Ctrl-C stops it); `status` shows its executions, `reset` wipes it',
  usage: `mlpipe local [--data-dir DIR] [--port N] [--stage local]   (defaults: ${DEFAULT_LOCAL_DATA_DIR}, ${DEFAULT_LOCAL_PORT})
       mlpipe local status [EXECUTION] [--data-dir DIR]   every execution and its state; one execution followed state by state
       mlpipe local reset [--data-dir DIR]                wipe a stopped local cloud's data`,
  async run(args, io) {
    const { flags, positional } = parseArgs(args, { 'data-dir': 'string', port: 'string', stage: 'string' });
    const [action, ...rest] = positional;
    const dataDir = resolve(flags['data-dir'] ?? DEFAULT_LOCAL_DATA_DIR);
    if (action !== undefined && (flags.port !== undefined || flags.stage !== undefined))
      throw new UsageError(
        `--port and --stage start a cloud; \`mlpipe local ${action}\` takes --data-dir only`,
      );
    if (action === 'status') {
      if (rest.length > 1) throw new UsageError(`unexpected argument ${rest[1]}`);
      return status(dataDir, rest[0], io);
    }
    if (action === 'reset') {
      if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
      return reset(dataDir, io);
    }
    if (action !== undefined) throw new UsageError(`unknown action ${action}: expected status or reset`);
    const port = flags.port === undefined ? DEFAULT_LOCAL_PORT : Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_000)
      throw new UsageError('--port expects a port number');
    return serve(dataDir, port, flags.stage ?? 'local', io);
  },
};
