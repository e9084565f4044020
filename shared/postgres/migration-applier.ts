import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type PostgresCredentials, pgConnectionConfig, urlPassword } from './entra-credentials.js';

/**
 * Applies `prisma/migrations/<timestamp>_<name>/migration.sql` folders without Prisma's native schema
 * engine, which cannot be downloaded everywhere (see docs: "Applying migrations"). It keeps the same
 * ledger as `prisma migrate deploy`, so either tool can take over from the other.
 */

/** Where `prisma.config.ts` points Prisma at the migrations; resolved from this file, not the cwd. */
export const defaultMigrationsDir = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

/** The key Prisma's schema engine locks on, so this applier and `prisma migrate deploy` exclude each other. */
const PRISMA_ADVISORY_LOCK_KEY = 72707369;
/** Prisma gives up on the lock after 10 s; a second runner that waits that long reports it instead of hanging. */
const LOCK_TIMEOUT = '10s';
const LOCK_NOT_AVAILABLE = '55P03';

/** Verbatim from Prisma's schema engine (PostgreSQL connector), so the table is indistinguishable from one Prisma made. */
const CREATE_LEDGER_TABLE = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);`;

export interface ApplyMigrationsOptions {
  /** Folder holding the `<timestamp>_<name>/migration.sql` folders; defaults to the project's `prisma/migrations`. */
  migrationsDir?: string;
  /** Receives one line per event (applied, skipped, problems); never the connection string. */
  log?: (line: string) => void;
  /** How to sign in: the URL's password (default) or a Microsoft Entra token (DATABASE_AUTH=entra). */
  credentials?: PostgresCredentials;
}

export interface ApplyMigrationsResult {
  /** Migrations applied by this call, in order. */
  applied: string[];
  /** Migrations already recorded as finished, left alone. */
  skipped: string[];
}

/** A recorded migration that blocks applying more: edited after it ran, or failed and never resolved. */
export class MigrationHistoryError extends Error {
  override readonly name = 'MigrationHistoryError';
  constructor(
    message: string,
    readonly migrationName: string,
  ) {
    super(message);
  }
}

/** A migration whose SQL failed; its transaction was rolled back, so none of it was kept. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    readonly migrationName: string,
    cause: unknown,
  ) {
    super(`Migration ${migrationName} failed and was rolled back: ${describeError(cause)}`, { cause });
  }
}

interface LocalMigration {
  name: string;
  script: string;
}

interface LedgerRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Applies every migration folder not yet recorded in `_prisma_migrations`, oldest first, each in its own
 * transaction, under Prisma's advisory lock. Rows are written as `prisma migrate deploy` writes them:
 * a uuid id, the sha256 hex checksum of `migration.sql`, `started_at`, then `finished_at` and
 * `applied_steps_count = 1` on success.
 *
 * Refuses (throws {@link MigrationHistoryError}) before applying anything when a recorded migration's file
 * changed or a recorded migration failed without being rolled back, as Prisma does. A migration that fails
 * here throws {@link MigrationFailedError}; its row keeps the error in `logs` and is marked rolled back,
 * since the transaction guarantees none of it was kept, so the next run retries it.
 *
 * Statements that cannot run inside a transaction (e.g. `CREATE INDEX CONCURRENTLY`) need `prisma migrate deploy`.
 */
export async function applyMigrations(databaseUrl: string, options: ApplyMigrationsOptions = {}): Promise<ApplyMigrationsResult> {
  const log = options.log ?? (() => undefined);
  const migrations = await readLocalMigrations(options.migrationsDir ?? defaultMigrationsDir);
  // Port 5432, never PgBouncer's 6432: the advisory lock below is held by the session (docs/deploy.md).
  const client = new pg.Client(pgConnectionConfig(databaseUrl, options.credentials ?? urlPassword));
  // An idle client that loses its server emits 'error'; without a listener that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`Could not connect to PostgreSQL at ${describeTarget(databaseUrl)}: ${describeError(error)}`, { cause: error });
  }
  try {
    await acquireLock(client);
    try {
      return await applyPending(client, migrations, log);
    } finally {
      // Ending the session releases the lock too, so a failure here must not hide the real error.
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function acquireLock(client: pg.Client): Promise<void> {
  await client.query("SELECT set_config('lock_timeout', $1, false)", [LOCK_TIMEOUT]);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
  } catch (error) {
    if (!(error instanceof pg.DatabaseError && error.code === LOCK_NOT_AVAILABLE)) throw error;
    throw new Error(
      `Timed out after ${LOCK_TIMEOUT} waiting for the migration lock ` +
        `(pg_advisory_lock(${PRISMA_ADVISORY_LOCK_KEY})): another migration is running`,
      { cause: error },
    );
  } finally {
    await client.query("SELECT set_config('lock_timeout', '0', false)");
  }
}

async function applyPending(client: pg.Client, migrations: LocalMigration[], log: (line: string) => void): Promise<ApplyMigrationsResult> {
  await ensureLedgerTable(client);
  const rows = await readLedger(client);
  const finished = checkHistory(migrations, rows, log);
  const result: ApplyMigrationsResult = { applied: [], skipped: [] };
  for (const migration of migrations) {
    if (finished.has(migration.name)) {
      result.skipped.push(migration.name);
      continue;
    }
    await applyOne(client, migration);
    result.applied.push(migration.name);
    log(`Applied ${migration.name}`);
  }
  return result;
}

async function ensureLedgerTable(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', ['_prisma_migrations']);
  if (!rows[0]?.exists) await client.query(CREATE_LEDGER_TABLE);
}

async function readLedger(client: pg.Client): Promise<LedgerRow[]> {
  const { rows } = await client.query<LedgerRow>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at ASC',
  );
  return rows;
}

/** Returns the names recorded as finished, after checking the history allows going on. */
function checkHistory(migrations: LocalMigration[], rows: LedgerRow[], log: (line: string) => void): Set<string> {
  const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed) {
    throw new MigrationHistoryError(
      `Migration ${failed.migration_name} is recorded as failed (started, never finished, not rolled back). ` +
        'Fix the database by hand, then mark it with `prisma migrate resolve --rolled-back` or `--applied` before migrating again.',
      failed.migration_name,
    );
  }
  const local = new Map(migrations.map((migration) => [migration.name, migration]));
  const finished = new Set<string>();
  for (const row of rows) {
    if (row.rolled_back_at !== null) continue;
    const migration = local.get(row.migration_name);
    if (!migration) {
      log(`Warning: ${row.migration_name} is recorded in the database but has no folder here`);
      continue;
    }
    if (!scriptMatchesChecksum(migration.script, row.checksum)) {
      throw new MigrationHistoryError(
        `Migration ${row.migration_name} was modified after it was applied: migration.sql no longer matches the ` +
          `checksum recorded in _prisma_migrations. ` +
          'Restore the original file and put the change in a new migration.',
        row.migration_name,
      );
    }
    finished.add(row.migration_name);
  }
  return finished;
}

async function applyOne(client: pg.Client, migration: LocalMigration): Promise<void> {
  const id = randomUUID();
  // Recorded before it runs, as Prisma does, so a crash mid-way leaves a visible failed row.
  await client.query('INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [
    id,
    migrationChecksum(migration.script),
    migration.name,
  ]);
  try {
    await client.query('BEGIN');
    await client.query(migration.script);
    await client.query('UPDATE _prisma_migrations SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1', [id]);
    await client.query('COMMIT');
  } catch (error) {
    // Best effort: if the connection is gone the row stays unfinished, which blocks the next run as Prisma would.
    await client
      .query('ROLLBACK')
      .then(() => client.query('UPDATE _prisma_migrations SET logs = $2, rolled_back_at = now() WHERE id = $1', [id, describeError(error)]))
      .catch(() => undefined);
    throw new MigrationFailedError(migration.name, error);
  }
}

/** Prisma's checksum: sha256 of the file's text, hex. */
export function migrationChecksum(script: string): string {
  return createHash('sha256').update(script, 'utf8').digest('hex');
}

/** Prisma also accepts the script with the other line endings, since git may convert them on checkout. */
function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const lf = script.replace(/\r\n/g, '\n');
  const crlf = lf.replace(/\n/g, '\r\n');
  return [script, lf, crlf].some((variant) => migrationChecksum(variant) === checksum);
}

/** Migration folders sorted by name, which starts with the timestamp, exactly as Prisma orders them. */
export async function readLocalMigrations(migrationsDir: string): Promise<LocalMigration[]> {
  let entries;
  try {
    entries = await readdir(migrationsDir, { withFileTypes: true });
  } catch (error) {
    throw new Error(`Could not read the migrations folder ${migrationsDir}: ${describeError(error)}`, { cause: error });
  }
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const migrations: LocalMigration[] = [];
  for (const name of names) {
    const file = path.join(migrationsDir, name, 'migration.sql');
    const exists = await stat(file).then(
      (info) => info.isFile(),
      () => false,
    );
    if (!exists) throw new Error(`Migration folder ${name} has no migration.sql`);
    migrations.push({ name, script: await readFile(file, 'utf8') });
  }
  return migrations;
}

/** host:port/database of a connection string: enough to say where, never the credentials. */
export function describeTarget(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

/** pg errors carry the SQLSTATE and position, never the connection string. */
function describeError(error: unknown): string {
  if (error instanceof pg.DatabaseError) return `${error.message} (SQLSTATE ${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
