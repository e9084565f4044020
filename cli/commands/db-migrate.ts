import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { applyMigrations, describeTarget } from '../../shared/postgres/migration-applier.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { untilInterrupted } from '../core/interrupt.js';
import { flag } from '../core/options.js';
import { findSchemaEngine } from './prisma-engine.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Output that means Prisma could not get its native schema engine, as opposed to a migration problem. */
const ENGINE_UNAVAILABLE = /binaries\.prisma\.sh|Schema engine exited|PRISMA_SCHEMA_ENGINE_BINARY|schema-engine/i;
/** Prisma's own error codes (P1001 unreachable, P3009 failed migration, ...): real answers, never a reason to fall back. */
const PRISMA_ERROR_CODE = /\bP\d{4}\b/;

type PrismaOutcome = { kind: 'applied'; output: string } | { kind: 'engine-unavailable' } | { kind: 'failed'; output: string };

export const dbMigrateCommand = defineCommand({
  script: 'db:migrate',
  entry: 'cli/db-migrate.ts',
  summary: 'apply the schema (prisma/migrations) to DATABASE_URL',
  description: [
    'Applies the migrations in prisma/migrations to the database in DATABASE_URL.',
    '',
    "It runs `prisma migrate deploy` where Prisma's schema engine is installed. Where it is not (npm skipped",
    "its download, or the machine is offline), it uses the project's own applier at once, without waiting",
    "for a download to fail: the same migration folders in order, each in a transaction, under Prisma's",
    'advisory lock, recorded in _prisma_migrations exactly as Prisma does, so the two can take turns on one',
    'database. Either way it refuses to go on if an applied migration was edited or a recorded one failed.',
  ].join('\n'),
  options: {
    builtin: flag("Use the project's applier without trying `prisma migrate deploy` first."),
  },
  settings: ['DATABASE_URL', 'PRISMA_SCHEMA_ENGINE_BINARY'],
  exitCodes: {
    ok: 'done (or nothing to do)',
    failed: 'a migration failed, an applied one was edited, PostgreSQL did not answer, or DATABASE_URL is missing',
    interrupted: 'interrupted (Ctrl-C): the migration being applied is rolled back (each runs in a transaction); run it again',
  },
  prepare:
    ({ values }) =>
    async (io) => {
      const databaseUrl = io.config(['postgres']).databaseUrl as string;
      io.result(`Migrating ${describeTarget(databaseUrl)}`);
      if (!values.builtin) {
        const engine = findSchemaEngine(io.env);
        if (engine.available) {
          const outcome = await untilInterrupted(runPrismaMigrateDeploy(engine.cli, databaseUrl, io.env), io.signal);
          if (outcome.kind === 'applied') {
            io.result(outcome.output.trimEnd());
            return ExitCode.ok;
          }
          if (outcome.kind === 'failed') {
            io.log(outcome.output.trimEnd());
            io.log('db:migrate: prisma migrate deploy failed (output above)');
            return ExitCode.failed;
          }
          io.result("Prisma's schema engine could not run here; applying with the built-in applier.");
        } else {
          io.result(`Prisma's schema engine is not installed (${engine.reason}); applying with the built-in applier.`);
        }
      }
      const result = await untilInterrupted(applyMigrations(databaseUrl, { log: (line) => io.result(line) }), io.signal);
      io.result(
        result.applied.length === 0
          ? `Nothing to apply: all ${result.skipped.length} migration(s) were already applied.`
          : `Applied ${result.applied.length} migration(s); ${result.skipped.length} were already applied.`,
      );
      return ExitCode.ok;
    },
});

/** Runs the project's Prisma CLI; its output is buffered so an engine that cannot start is not shown as an error. */
async function runPrismaMigrateDeploy(cli: string, databaseUrl: string, env: Record<string, string | undefined>): Promise<PrismaOutcome> {
  const child = spawn(process.execPath, [cli, 'migrate', 'deploy'], {
    cwd: projectRoot,
    env: { ...env, DATABASE_URL: databaseUrl },
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
