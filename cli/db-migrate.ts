import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { databaseAuthOf, loadConfig, requirePostgres } from '../shared/config/env.js';
import { postgresCredentialsFor } from '../shared/postgres/entra-credentials.js';
import { applyMigrations, describeTarget } from '../shared/postgres/migration-applier.js';

const HELP = `Usage: npm run db:migrate [-- --builtin]

Applies the migrations in prisma/migrations to the database in DATABASE_URL.

It first runs \`prisma migrate deploy\`. Where Prisma's schema engine is missing or cannot be
downloaded (offline machines), it falls back to the project's own applier, which applies the
same migration folders in order, each in a transaction, under Prisma's advisory lock, and records
them in _prisma_migrations exactly as Prisma does, so the two can take turns on one database.
Either way it refuses to go on if an applied migration was edited or a recorded migration failed.

Options:
  --builtin   Use the project's applier without trying \`prisma migrate deploy\` first.
  -h, --help  Show this help.

Environment:
  DATABASE_URL   postgresql://user:password@host:5432/database (required)
  DATABASE_AUTH  entra: sign in with a Microsoft Entra token (your az login) instead of a password;
                 DATABASE_URL then names your Entra role and has no password, and the built-in applier
                 is used (prisma migrate deploy cannot fetch a token)

Exit codes: 0 done (or nothing to do), 1 failed, 2 bad arguments.`;

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Output that means Prisma could not get its native schema engine, as opposed to a migration problem. */
const ENGINE_UNAVAILABLE = /binaries\.prisma\.sh|Schema engine exited|PRISMA_SCHEMA_ENGINE_BINARY|schema-engine/i;
/** Prisma's own error codes (P1001 unreachable, P3009 failed migration, ...): real answers, never a reason to fall back. */
const PRISMA_ERROR_CODE = /\bP\d{4}\b/;

type PrismaOutcome = { kind: 'applied'; output: string } | { kind: 'engine-unavailable' } | { kind: 'failed'; output: string };

/** Parses arguments, migrates, and returns the process exit code. */
async function main(argv: string[]): Promise<number> {
  let builtin: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { builtin: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    builtin = values.builtin;
  } catch (error) {
    console.error(`db:migrate: ${error instanceof Error ? error.message : String(error)}\nRun with --help for usage.`);
    return 2;
  }

  try {
    const config = loadConfig();
    const databaseUrl = requirePostgres(config);
    const credentials = postgresCredentialsFor(databaseAuthOf(config));
    console.log(`Migrating ${describeTarget(databaseUrl)}`);
    if (!builtin && credentials.kind === 'urlPassword') {
      const outcome = await runPrismaMigrateDeploy(databaseUrl);
      if (outcome.kind === 'applied') {
        process.stdout.write(outcome.output);
        return 0;
      }
      if (outcome.kind === 'failed') {
        process.stderr.write(outcome.output);
        console.error('db:migrate: prisma migrate deploy failed (output above)');
        return 1;
      }
      console.log("Prisma's schema engine is not available here; applying with the built-in applier.");
    }
    const result = await applyMigrations(databaseUrl, { log: (line) => console.log(line), credentials });
    console.log(
      result.applied.length === 0
        ? `Nothing to apply: all ${result.skipped.length} migration(s) were already applied.`
        : `Applied ${result.applied.length} migration(s); ${result.skipped.length} were already applied.`,
    );
    return 0;
  } catch (error) {
    console.error(`db:migrate: ${describeFailure(error)}`);
    return 1;
  }
}

/** Runs the project's Prisma CLI; its output is buffered so an engine download failure is not shown as an error. */
async function runPrismaMigrateDeploy(databaseUrl: string): Promise<PrismaOutcome> {
  let prismaCli: string;
  try {
    prismaCli = path.join(path.dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build', 'index.js');
  } catch {
    return { kind: 'engine-unavailable' };
  }
  const child = spawn(process.execPath, [prismaCli, 'migrate', 'deploy'], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code === 0) return { kind: 'applied', output };
  if (ENGINE_UNAVAILABLE.test(output) && !PRISMA_ERROR_CODE.test(output)) return { kind: 'engine-unavailable' };
  return { kind: 'failed', output };
}

/** Config, history and migration errors are written to be shown as they are; none carries the connection string. */
function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

process.exitCode = await main(process.argv.slice(2));
