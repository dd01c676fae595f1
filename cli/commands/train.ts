import { resolve } from 'node:path';
import { runTraining } from '../../trainers/gbdt/train';
import { type CliCommand, UsageError } from '../command';
import { parseArgs } from '../options';

export const command: CliCommand = {
  name: 'train',
  summary:
    'Train the default GBDT model under the SageMaker training contract, rooted at DIR instead of /opt/ml',
  usage:
    'mlpipe train --root DIR [--version NAME]   (DIR/input/data/train, DIR/input/config/hyperparameters.json → DIR/model)',
  async run(args, io) {
    const { flags, positional } = parseArgs(args, { root: 'string', version: 'string' });
    if (!flags.root || positional.length > 0) throw new UsageError('expected --root DIR');
    return runTraining(resolve(flags.root), {
      log: io.out,
      ...(flags.version ? { version: flags.version } : {}),
    });
  },
};
