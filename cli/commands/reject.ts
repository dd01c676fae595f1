import type { CliCommand } from '../command';
import { runReview } from '../run/approval';

export const command: CliCommand = {
  name: 'reject',
  summary: 'Reject the model an execution is waiting on; it is recorded as Rejected and never deployed',
  usage:
    'mlpipe reject <execution name or ARN> --reason TEXT [--stage local|dev|staging|prod] [--reviewer NAME] [--data-dir DIR]',
  run: (args, io) => runReview('reject', args, io.out),
};
