import type { Container } from '@azure/cosmos';
import type { AppConfig } from '../../shared/config/env.js';
import { throwIfInterrupted } from '../../shared/core/errors.js';
import { applyMigrations } from '../../shared/postgres/migration-applier.js';
import { createPrismaClient, type PrismaClient } from '../../shared/postgres/prisma-client.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { startLocalCosmosServer } from './local-cosmos-server.js';

/** An embedded PostgreSQL and a local Cosmos-protocol server, wired up as the app's configuration. */
export interface LocalEnvironment {
  /** Built here, never read from the environment. MIGRATION_MODE is on: these databases are throwaway. */
  config: AppConfig;
  prisma: PrismaClient;
  /** `NostriaDB`/`Documents`, partitioned on `/pubkey`, empty. */
  container: Container;
  /** Stops both servers and deletes PostgreSQL's data directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface LocalEnvironmentOptions {
  /** Stops the start between steps (`InterruptedError`), stopping whatever had started already. */
  signal?: AbortSignal;
  /** The caller handles SIGINT/SIGTERM itself (see `EmbeddedPostgresOptions.callerHandlesSignals`). */
  callerHandlesSignals?: boolean;
}

const databaseName = 'nostria_demo';
const disconnectTimeoutMs = 3000;

/** `work`, or nothing once `ms` have passed. */
async function withinMs(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Starts both stand-ins on free ports of 127.0.0.1, applies the project's migrations and creates the
 * Cosmos container. Nothing here looks at DATABASE_URL or the Cosmos settings, so no configured database
 * can be touched. `log` receives a line per step. If it fails or is interrupted part-way, what had
 * started is stopped (and PostgreSQL's data deleted) before it throws.
 */
export async function startLocalEnvironment(log: (line: string) => void, options: LocalEnvironmentOptions = {}): Promise<LocalEnvironment> {
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  // One shutdown, however many callers (Ctrl-C and the normal end can overlap): all of them wait for it.
  const stop = () =>
    (stopping ??= (async () => {
      // Last started, first stopped; every step runs even if one fails.
      for (const step of stops.splice(0).reverse()) await step().catch(() => undefined);
    })());
  try {
    log('Starting an embedded PostgreSQL (temporary data directory, random port on 127.0.0.1)...');
    const postgres = await startEmbeddedPostgres({ callerHandlesSignals: options.callerHandlesSignals });
    stops.push(() => postgres.stop());
    throwIfInterrupted(options.signal);
    const databaseUrl = await postgres.createDatabase(databaseName);
    const migrations = await applyMigrations(databaseUrl);
    throwIfInterrupted(options.signal);
    log(`  PostgreSQL ready; applied ${migrations.applied.length} migration(s) to database ${databaseName}.`);

    log('Starting the local Cosmos DB double (4 physical partitions, in memory, 127.0.0.1)...');
    const cosmos = await startLocalCosmosServer();
    stops.push(() => cosmos.stop());
    const container = await cosmos.createDocumentsContainer();
    throwIfInterrupted(options.signal);
    log(`  Cosmos ready at ${cosmos.endpoint}: ${cosmos.settings.databaseName}/${cosmos.settings.containerName}, partition key /pubkey.`);

    const config: AppConfig = {
      databaseUrl,
      poolSize: 5,
      usePostgres: false,
      dualDatabaseMode: false,
      migrationMode: true,
      cosmos: cosmos.settings,
    };
    const prisma = createPrismaClient(databaseUrl, config.poolSize);
    // Bounded: with the server already gone (a terminal's Ctrl-C reaches it too), a disconnect can wait on
    // queries that never finish, and the data to delete comes after it.
    stops.push(() => withinMs(prisma.$disconnect(), disconnectTimeoutMs));
    return { config, prisma, container, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
