import type { Command } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { type CommandLineContext, runCommandLine } from '../core/run-command-line.js';
import { accountsCommand } from './accounts.js';
import { dryRunCommand } from './dry-run.js';
import { fullCommand } from './full.js';
import { incrementalCommand } from './incremental.js';
import { reconcileCommand } from './reconcile.js';
import { statsCommand } from './stats.js';
import { switchCommand } from './switch.js';
import { syncCommand } from './sync.js';
import { userCommand } from './user.js';
import { verifyCommand } from './verify.js';

/** The `migrate:*` commands, by the word after `cli/migrate.ts`, in the order the overview lists them. */
export const migrateCommands: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['stats', statsCommand],
  ['dry-run', dryRunCommand],
  ['accounts', accountsCommand],
  ['user', userCommand],
  ['verify', verifyCommand],
  ['full', fullCommand],
  ['incremental', incrementalCommand],
  ['sync', syncCommand],
  ['reconcile', reconcileCommand],
  ['switch', switchCommand],
]);

/** The list of commands, for `--help` and for a command line that names none. */
export function overview(): string {
  const lines = [...migrateCommands.values()].map((command) => {
    const name = `${command.script}${command.args ? ` ${command.args}` : ''}`;
    return `  ${name.padEnd(29)}${command.summary}`;
  });
  return [
    'Usage: npm run migrate:<command> [arguments] [-- options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Every command takes --help. Also: npm run db:migrate (apply the schema), migrate:poison, migrate:pending-sync,',
    'migrate:quarantine (list, show, retry and resolve quarantined documents).',
    'Nothing configured? npm run demo runs it all on throwaway local databases; npm run local starts them for you.',
  ].join('\n');
}

/** Runs `migrate.ts` with `context.argv` = `<command> [arguments] [options]`; returns the exit code. */
export async function runMigrate(context: CommandLineContext): Promise<number> {
  const [name, ...rest] = context.argv;
  const command = name === undefined ? undefined : migrateCommands.get(name);
  if (command) return runCommandLine(command, { ...context, argv: rest });
  if (name === '--help' || name === '-h') {
    context.stdout.write(`${overview()}\n`);
    return ExitCode.ok;
  }
  context.stderr.write(`${name === undefined ? 'No command given' : `Unknown command ${JSON.stringify(name)}`}.\n\n${overview()}\n`);
  return ExitCode.usage;
}
