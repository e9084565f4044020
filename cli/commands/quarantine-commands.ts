import type { Command } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { type CommandLineContext, runCommandLine } from '../core/run-command-line.js';
import { quarantineListCommand, quarantineResolveCommand, quarantineRetryCommand, quarantineShowCommand } from './quarantine.js';

/** `migrate:quarantine`'s subcommands, by the word after it. */
export const quarantineCommands: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['list', quarantineListCommand],
  ['show', quarantineShowCommand],
  ['retry', quarantineRetryCommand],
  ['resolve', quarantineResolveCommand],
]);

/** The subcommands, for `--help` and for a command line that names none. */
export function quarantineOverview(): string {
  const lines = [...quarantineCommands.entries()].map(([name, command]) => {
    const usage = `${name}${command.args ? ` ${command.args}` : ''}`;
    return `  ${usage.padEnd(22)}${command.summary}`;
  });
  return [
    'Usage: npm run migrate:quarantine -- <subcommand> [arguments] [options]',
    '',
    'The quarantine: every document no table holds, kept whole with its reason. Entries are open until an operator',
    'resolves them or their documents are deleted in Cosmos (closed); both are kept for audit.',
    '',
    'Subcommands:',
    ...lines,
    '',
    'Each takes --help, e.g. npm run migrate:quarantine -- list --help.',
  ].join('\n');
}

/** Runs `quarantine.ts` with `context.argv` = `<subcommand> [arguments] [options]`; returns the exit code. */
export async function runQuarantine(context: CommandLineContext): Promise<number> {
  const [name, ...rest] = context.argv;
  const command = name === undefined ? undefined : quarantineCommands.get(name);
  if (command) return runCommandLine(command, { ...context, argv: rest });
  if (name === '--help' || name === '-h') {
    context.stdout.write(`${quarantineOverview()}\n`);
    return ExitCode.ok;
  }
  const problem = name === undefined ? 'No subcommand given' : `Unknown subcommand ${JSON.stringify(name)}`;
  context.stderr.write(`migrate:quarantine: ${problem}.\n\n${quarantineOverview()}\n`);
  return ExitCode.usage;
}
