import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbMigrateCommand } from '../../cli/commands/db-migrate.js';
import { documentTypeNames, documentTypes } from '../../shared/domain/document-types.js';
import { sqlTypeOf } from '../../shared/domain/fields.js';
import {
  applyMigrations,
  defaultMigrationsDir,
  MigrationFailedError,
  MigrationHistoryError,
} from '../../shared/postgres/migration-applier.js';
import { createEmptyDatabase, type EmptyTestDatabase } from '../support/postgres.js';
import { baseEnv, type CliResult, runCli as runCommand } from '../support/run-cli.js';
import {
  type Datamodel,
  databaseSchema,
  declaredSchema,
  type IndexShape,
  readDatamodel,
  type SchemaShape,
} from '../support/schema-shape.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const schemaPath = path.join(projectRoot, 'prisma', 'schema.prisma');

/**
 * Indexes a migration creates that schema.prisma cannot declare (Prisma has no expression or partial indexes); the
 * model's comment names each. Each must exist with exactly this shape; the rest of its table is compared as usual.
 */
const awaitingCosmos = (table: string): Record<string, IndexShape> => ({
  [`${table}_awaitingCosmos_idx`]: { unique: false, method: 'btree', columns: ['awaitingCosmos', 'WHERE ("awaitingCosmos" IS NOT NULL)'] },
});
const undeclarableIndexes: Record<string, Record<string, IndexShape>> = {
  accounts: {
    accounts_username_lower_idx: { unique: false, method: 'btree', columns: ['lower(username)'] },
    ...awaitingCosmos('accounts'),
  },
  ...Object.fromEntries(
    ['user_settings', 'backup_jobs', 'payments', 'notification_subscriptions', 'notification_settings', 'notification_logs'].map(
      (table) => [table, awaitingCosmos(table)],
    ),
  ),
};

const empties: EmptyTestDatabase[] = [];
const tempDirs: string[] = [];

async function emptyDatabase(): Promise<EmptyTestDatabase> {
  const db = await createEmptyDatabase();
  empties.push(db);
  return db;
}

/** A private copy of the project's migrations that a test may edit. */
async function copyOfMigrations(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nostria-migrations-'));
  tempDirs.push(dir);
  await cp(defaultMigrationsDir, dir, { recursive: true });
  return dir;
}

async function localMigrationNames(dir = defaultMigrationsDir): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await Promise.all(empties.map((db) => db.drop()));
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the schema the migrations build', () => {
  let migrated: EmptyTestDatabase;
  let actual: SchemaShape;
  let declared: SchemaShape;
  let datamodel: Datamodel;

  beforeAll(async () => {
    migrated = await emptyDatabase();
    await applyMigrations(migrated.url);
    actual = await withClient(migrated.url, databaseSchema);
    datamodel = await readDatamodel(schemaPath);
    declared = declaredSchema(datamodel);
  });

  it("has exactly the tables schema.prisma declares, plus Prisma's ledger", () => {
    expect(Object.keys(actual).sort()).toEqual([...Object.keys(declared), '_prisma_migrations'].sort());
  });

  // One test per table keeps the failure diff to the table that differs.
  it.each(documentTableNames())(
    'table %s matches schema.prisma: columns, types, nullability, defaults, keys, indexes, foreign keys',
    (table) => {
      const undeclarable = undeclarableIndexes[table] ?? {};
      const indexes = { ...actual[table]?.indexes };
      for (const [name, shape] of Object.entries(undeclarable)) {
        expect(indexes[name], `index ${name}, which schema.prisma cannot declare`).toEqual(shape);
        delete indexes[name];
      }
      expect(actual[table] && { ...actual[table], indexes }, `table ${table} in the migrated database`).toEqual(declared[table]);
    },
  );

  it('covers every model of schema.prisma in the per-table checks above', () => {
    expect(documentTableNames().sort()).toEqual(Object.keys(declared).sort());
  });

  it('keeps _prisma_migrations exactly as Prisma creates it', () => {
    expect(actual._prisma_migrations).toEqual({
      columns: {
        id: { type: 'character varying(36)', nullable: false, default: null },
        checksum: { type: 'character varying(64)', nullable: false, default: null },
        finished_at: { type: 'timestamp with time zone', nullable: true, default: null },
        migration_name: { type: 'character varying(255)', nullable: false, default: null },
        logs: { type: 'text', nullable: true, default: null },
        rolled_back_at: { type: 'timestamp with time zone', nullable: true, default: null },
        started_at: { type: 'timestamp with time zone', nullable: false, default: 'now()' },
        applied_steps_count: { type: 'integer', nullable: false, default: '0' },
      },
      primaryKey: { name: '_prisma_migrations_pkey', columns: ['id'] },
      indexes: {},
      foreignKeys: {},
    });
  });

  it.each(documentTypeNames)("gives document type %s a table whose columns are its descriptor's", (name) => {
    const descriptor = documentTypes[name];
    const table = actual[descriptor.table];
    expect(table, `table ${descriptor.table}`).toBeDefined();
    const expected = [
      ...Object.keys(descriptor.columns),
      'id',
      'pubkey',
      'extra',
      'cosmosTs',
      'cosmosEtag',
      'cosmosLsn',
      'awaitingCosmos',
      ...(descriptor.storesType ? ['type'] : []),
    ].sort();
    expect(Object.keys(table?.columns ?? {}).sort()).toEqual(expected);
    const kinds = Object.fromEntries(Object.entries(descriptor.columns).map(([column, kind]) => [column, sqlTypeOf[kind]]));
    const types = Object.fromEntries(Object.keys(descriptor.columns).map((column) => [column, table?.columns[column]?.type]));
    expect(types).toEqual(kinds);
    expect(table?.primaryKey?.columns).toEqual([descriptor.key]);
    const model = datamodel.models.find((candidate) => (candidate.dbName ?? candidate.name) === descriptor.table);
    expect(model && model.name.charAt(0).toLowerCase() + model.name.slice(1)).toBe(descriptor.model);
  });

  function documentTableNames(): string[] {
    // Read synchronously at collection time from the @@map names, so a new model gets its own test.
    return [...readFileSync(schemaPath, 'utf8').matchAll(/@@map\("([^"]+)"\)/g)].map((match) => match[1] as string);
  }
});

describe('applyMigrations', () => {
  it('records each migration as Prisma does, and applies nothing the second time', async () => {
    const db = await emptyDatabase();
    const names = await localMigrationNames();

    const first = await applyMigrations(db.url);
    expect(first).toEqual({ applied: names, skipped: [] });
    const second = await applyMigrations(db.url);
    expect(second).toEqual({ applied: [], skipped: names });

    const rows = await withClient(db.url, async (client) => {
      const result = await client.query<{
        id: string;
        checksum: string;
        finished_at: Date | null;
        migration_name: string;
        logs: string | null;
        rolled_back_at: Date | null;
        started_at: Date;
        applied_steps_count: number;
      }>('SELECT * FROM _prisma_migrations ORDER BY started_at');
      return result.rows;
    });
    expect(rows.map((row) => row.migration_name)).toEqual(names);
    for (const row of rows) {
      const script = await readFile(path.join(defaultMigrationsDir, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(script).digest('hex'));
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.finished_at).not.toBeNull();
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    }
  });

  it('lets two runners race: one applies, the other waits on the lock and finds nothing to do', async () => {
    const db = await emptyDatabase();
    const names = await localMigrationNames();
    const results = await Promise.all([applyMigrations(db.url), applyMigrations(db.url)]);
    expect(results.flatMap((result) => result.applied).sort()).toEqual(names);
    expect(results.map((result) => result.applied.length + result.skipped.length)).toEqual([names.length, names.length]);
    const count = await withClient(db.url, (client) => client.query('SELECT 1 FROM _prisma_migrations'));
    expect(count.rowCount).toBe(names.length);
  });

  it('applies a new migration folder after the ones already applied', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await applyMigrations(db.url, { migrationsDir: dir });
    await mkdir(path.join(dir, '29990101000000_add_probe'));
    await writeFile(path.join(dir, '29990101000000_add_probe', 'migration.sql'), 'CREATE TABLE "probe" ("n" INTEGER);\n');
    const lines: string[] = [];
    const result = await applyMigrations(db.url, { migrationsDir: dir, log: (line) => lines.push(line) });
    expect(result.applied).toEqual(['29990101000000_add_probe']);
    expect(result.skipped).toEqual(await localMigrationNames());
    expect(lines).toContain('Applied 29990101000000_add_probe');
    const probe = await withClient(db.url, (client) => client.query("SELECT to_regclass('probe')::text AS found"));
    expect(probe.rows[0]?.found).toBe('probe');
  });

  it('refuses, naming the migration, when an applied migration.sql was edited', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const [firstName] = await localMigrationNames(dir);
    await applyMigrations(db.url, { migrationsDir: dir });
    await appendFile(path.join(dir, firstName as string, 'migration.sql'), '\n-- edited after it was applied\n');

    const error = await applyMigrations(db.url, { migrationsDir: dir }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MigrationHistoryError);
    expect((error as MigrationHistoryError).migrationName).toBe(firstName);
    expect((error as Error).message).toMatch(/was modified after it was applied/);
  });

  it('accepts an applied migration whose file only changed line endings, as Prisma does', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const names = await localMigrationNames(dir);
    await applyMigrations(db.url, { migrationsDir: dir });
    for (const name of names) {
      const file = path.join(dir, name, 'migration.sql');
      await writeFile(file, (await readFile(file, 'utf8')).replace(/\r?\n/g, '\r\n'));
    }
    expect(await applyMigrations(db.url, { migrationsDir: dir })).toEqual({ applied: [], skipped: names });
  });

  it('rolls a failing migration back whole, records why, and retries it once fixed', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const broken = path.join(dir, '29990101000000_broken');
    await mkdir(broken);
    await writeFile(path.join(broken, 'migration.sql'), 'CREATE TABLE "half_done" ("n" INTEGER);\nSELECT no_such_function();\n');

    const error = await applyMigrations(db.url, { migrationsDir: dir }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect((error as MigrationFailedError).migrationName).toBe('29990101000000_broken');
    expect((error as Error).message).toMatch(/no_such_function.*SQLSTATE 42883/);

    const after = await withClient(db.url, async (client) => ({
      halfDone: (await client.query("SELECT to_regclass('half_done')::text AS found")).rows[0]?.found,
      row: (
        await client.query<{ logs: string; finished_at: Date | null; rolled_back_at: Date | null }>(
          "SELECT logs, finished_at, rolled_back_at FROM _prisma_migrations WHERE migration_name = '29990101000000_broken'",
        )
      ).rows[0],
    }));
    expect(after.halfDone).toBeNull();
    expect(after.row?.logs).toMatch(/no_such_function/);
    expect(after.row?.finished_at).toBeNull();
    expect(after.row?.rolled_back_at).not.toBeNull();

    await writeFile(path.join(broken, 'migration.sql'), 'CREATE TABLE "half_done" ("n" INTEGER);\n');
    const retried = await applyMigrations(db.url, { migrationsDir: dir });
    expect(retried.applied).toEqual(['29990101000000_broken']);
  });

  it('refuses to go on past a migration Prisma recorded as failed and never resolved', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await applyMigrations(db.url, { migrationsDir: dir });
    await withClient(db.url, (client) =>
      client.query(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, started_at, applied_steps_count)
         VALUES (gen_random_uuid()::text, $1, $2, 'boom', now(), 0)`,
        ['0'.repeat(64), '29990101000000_failed_elsewhere'],
      ),
    );
    await mkdir(path.join(dir, '29990102000000_next'));
    await writeFile(path.join(dir, '29990102000000_next', 'migration.sql'), 'CREATE TABLE "next_one" ("n" INTEGER);\n');

    const error = await applyMigrations(db.url, { migrationsDir: dir }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MigrationHistoryError);
    expect((error as Error).message).toMatch(/29990101000000_failed_elsewhere is recorded as failed/);
    const next = await withClient(db.url, (client) => client.query("SELECT to_regclass('next_one')::text AS found"));
    expect(next.rows[0]?.found).toBeNull();
  });

  it("never puts the connection string's password in its errors", async () => {
    const password = 'pw-that-must-not-leak-7d3f';
    const error = await applyMigrations(`postgresql://someone:${password}@127.0.0.1:1/nowhere`).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/Could not connect to PostgreSQL at 127\.0\.0\.1:1\/nowhere/);
    expect(JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack })).not.toContain(password);
  });
});

describe('npm run db:migrate', () => {
  it('--help describes the fallback and the exit codes', async () => {
    const run = await runCli(['--help'], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/prisma migrate deploy/);
    expect(run.stdout).toMatch(/--builtin/);
    expect(run.stdout).toMatch(/DATABASE_URL/);
  });

  it('exits 2 on an unknown argument', async () => {
    const run = await runCli(['--frobnicate'], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--frobnicate/);
  });

  it('exits 1 naming DATABASE_URL when it is missing', async () => {
    const run = await runCli(['--builtin'], { DATABASE_URL: '' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/DATABASE_URL: required/);
  });

  it('applies the migrations with --builtin, says which, and never prints the password', async () => {
    const db = await emptyDatabase();
    const url = withPassword(db.url);
    const password = decodeURIComponent(new URL(url).password);
    const names = await localMigrationNames();

    const run = await runCli(['--builtin'], { DATABASE_URL: url });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const name of names) expect(run.stdout).toContain(`Applied ${name}`);
    expect(run.stdout + run.stderr).not.toContain(password);

    const again = await runCli(['--builtin'], { DATABASE_URL: url });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to apply/);
  });

  it('goes straight to the built-in applier when Prisma has no schema engine here, without trying to fetch one', async () => {
    const db = await emptyDatabase();
    const run = await runCli([], { DATABASE_URL: db.url, PRISMA_SCHEMA_ENGINE_BINARY: path.join(tmpdir(), 'no-such-schema-engine') });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(
      "Prisma's schema engine is not installed (PRISMA_SCHEMA_ENGINE_BINARY names no file); applying with the built-in applier.",
    );
    expect(run.stdout).toMatch(/Applied \d+ migration\(s\)/);
  });

  it('migrates by default too: through prisma migrate deploy where the engine exists, else the built-in applier', async () => {
    const db = await emptyDatabase();
    const run = await runCli([], { DATABASE_URL: db.url });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const finished = await withClient(db.url, (client) =>
      client.query<{ migration_name: string }>('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1'),
    );
    expect(finished.rows.map((row) => row.migration_name)).toEqual(await localMigrationNames());
  });
});

/** Trust-auth servers ignore a password; adding one lets the test check it is never printed. */
function withPassword(url: string): string {
  const parsed = new URL(url);
  if (!parsed.password) parsed.password = 'cli-password-must-not-leak';
  return parsed.toString();
}

/** `npm run db:migrate` in-process, with nothing of the developer's environment but `env` (test/support/run-cli.ts). */
function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCommand(dbMigrateCommand, args, baseEnv(env));
}
