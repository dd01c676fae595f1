import { resolve } from 'node:path';
import { DEFAULT_LOCAL_PORT, startLocalCloud } from '../../local/cloud';
import { DEFAULT_LOCAL_DATA_DIR } from '../aws';
import { type CliCommand, UsageError } from '../command';
import { parseArgs } from '../options';

export const command: CliCommand = {
  name: 'local',
  summary: 'Run the local cloud in the foreground (Ctrl-C stops it); writes DIR/endpoints.env',
  usage: `mlpipe local [--data-dir DIR] [--port N] [--stage local]   (defaults: ${DEFAULT_LOCAL_DATA_DIR}, ${DEFAULT_LOCAL_PORT})`,
  async run(args, io) {
    const { flags, positional } = parseArgs(args, { 'data-dir': 'string', port: 'string', stage: 'string' });
    if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
    const port = flags.port === undefined ? DEFAULT_LOCAL_PORT : Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_000)
      throw new UsageError('--port expects a port number');
    const dataDir = resolve(flags['data-dir'] ?? DEFAULT_LOCAL_DATA_DIR);
    const started = Date.now();
    const cloud = await startLocalCloud({
      dataDir,
      port,
      stage: flags.stage ?? 'local',
      onLog: (l) => io.out(`[${l.functionName}] ${l.line}`),
      onNotification: (o) => {
        if (!o.ok) io.err(`S3 → ${o.functionName} failed after ${o.attempts} attempts: ${o.error}`);
      },
    });
    io.out(`mlpipe local cloud up in ${Date.now() - started} ms (data in ${dataDir})`);
    for (const [service, url] of Object.entries(cloud.endpoints)) io.out(`  ${service.padEnd(8)} ${url}`);
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
  },
};
