import { parseArgs } from 'node:util';
import { expectPositionals, type OptionName, optionDefinitions, UsageError } from './cli-options.js';
import { type CliCommand, ExitCode, type OptionValues } from './command.js';
import { accountsCommand } from './commands/accounts.js';
import { dryRunCommand } from './commands/dry-run.js';
import { fullCommand } from './commands/full.js';
import { incrementalCommand } from './commands/incremental.js';
import { statsCommand } from './commands/stats.js';
import { userCommand } from './commands/user.js';
import { verifyCommand } from './commands/verify.js';

/**
 * `npm run migrate:<command>`: translates the command line into a call of one command module and
 * nothing more. Usage: `tsx cli/migrate.ts <command> [arguments] [options]`.
 */

const commands: readonly CliCommand[] = [
  statsCommand,
  dryRunCommand,
  accountsCommand,
  userCommand,
  verifyCommand,
  fullCommand,
  incrementalCommand,
];

const overview = `Usage: npm run migrate:<command> [arguments] [-- options]

Commands:
  migrate:stats                counts per type in Cosmos DB and PostgreSQL, progress, quarantine, last run
  migrate:dry-run              classify every document as the migration would; write nothing
  migrate:accounts             migrate every account
  migrate:user <pubkey>        migrate all of one user's documents
  migrate:verify <pubkey>      compare one user's documents field by field (--all: everything)
  migrate:full                 migrate everything, then verify everything
  migrate:incremental          migrate what changed since the last completed run

Every command takes --help. Nothing configured? npm run demo runs it all on throwaway local databases.`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    if (name === '--help' || name === '-h') {
      console.log(overview);
      return ExitCode.ok;
    }
    console.error(`${name === undefined ? 'No command given' : `Unknown command ${JSON.stringify(name)}`}.\n\n${overview}`);
    return ExitCode.usage;
  }
  const script = `migrate:${command.name}`;
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: pickOptions(['help', ...command.options]),
      strict: true,
      allowPositionals: true,
    });
    const given = values as OptionValues;
    if (given.help) {
      console.log(command.help);
      return ExitCode.ok;
    }
    expectPositionals(positionals, command.maxPositionals);
    const work = command.prepare(given, positionals);
    // Loaded only to run: it brings the database clients, which `--help` and argument errors never need.
    const { runCommand } = await import('./command-runner.js');
    return await runCommand(script, given.json === true, work);
  } catch (error) {
    if (!isUsageError(error)) throw error;
    console.error(`${script}: ${(error as Error).message}\nRun \`npm run ${script} -- --help\` for usage.`);
    return ExitCode.usage;
  }
}

function pickOptions(names: readonly OptionName[]) {
  return Object.fromEntries(names.map((option) => [option, optionDefinitions[option]])) as Partial<typeof optionDefinitions>;
}

/** Our own, and `util.parseArgs`'s (unknown option, missing value, unexpected positional). */
function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

process.exitCode = await main(process.argv.slice(2));
