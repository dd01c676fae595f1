import type { CliCommand } from '../command';
import { runReview } from '../run/approval';

export const command: CliCommand = {
  name: 'approve',
  summary: 'Approve the model an execution is waiting on (stages that require approval)',
  usage:
    'mlpipe approve <execution name or ARN> [--stage local|dev|staging|prod] [--comment TEXT] [--reviewer NAME] [--data-dir DIR]',
  run: (args, io) => runReview('approve', args, io.out),
};
