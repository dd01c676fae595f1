import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type CliCommand, type CliIo, processIo, UsageError } from './command';

const commandsDir = join(__dirname, 'commands');

// Commands are discovered from cli/commands/, so adding one never edits a shared registry.
const commandFile = (name: string): string | undefined => {
  if (!/^[a-z][a-z-]*$/.test(name)) return undefined;
  const file = join(commandsDir, `${name}.ts`);
  return existsSync(file) ? file : undefined;
};

const loadCommand = (file: string): CliCommand => (require(file) as { command: CliCommand }).command;

const listCommands = (): CliCommand[] =>
  readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => loadCommand(join(commandsDir, f)));

const printHelp = (io: CliIo): void => {
  io.out('usage: mlpipe <command> [options]\n');
  for (const c of listCommands()) io.out(`  ${c.name.padEnd(10)} ${c.summary}`);
  io.out('\nmlpipe <command> --help shows the options of one command.');
};

export const main = async (argv: readonly string[], io: CliIo = processIo): Promise<number> => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    printHelp(io);
    return name === undefined ? 2 : 0;
  }
  const file = commandFile(name);
  if (file === undefined) {
    io.err(`mlpipe: unknown command "${name}"`);
    printHelp(io);
    return 2;
  }
  const command = loadCommand(file);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`mlpipe ${name}: ${error.message}`);
      io.err(`usage: ${command.usage}`);
      return 2;
    }
    const e = error as Error;
    io.err(`mlpipe ${name}: ${e.name}: ${e.message}`);
    return 1;
  }
};
