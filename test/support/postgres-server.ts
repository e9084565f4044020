import { randomBytes } from 'node:crypto';
import { startEmbeddedPostgres } from '../../dev/local-services/embedded-postgres.js';

export { createDatabase, databaseUrlFor, dropDatabase } from '../../dev/local-services/database-admin.js';

/** A PostgreSQL server the test run may create and drop databases on. */
export interface PostgresServer {
  /** Connection string to a maintenance database on that server (CREATE/DROP DATABASE run from here). */
  adminUrl: string;
  stop(): Promise<void>;
}

/**
 * `TEST_DATABASE_URL` when set (CI and the local PostgreSQL 15); otherwise one throwaway embedded-postgres
 * server on a free port with its data under the OS temp dir, deleted on stop.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const configured = process.env.TEST_DATABASE_URL?.trim();
  if (configured) return { adminUrl: configured, stop: () => Promise.resolve() };
  return startEmbeddedPostgres();
}

/** Unique per call, so concurrent files and concurrent runs on one server never collide. */
export function uniqueDatabaseName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
