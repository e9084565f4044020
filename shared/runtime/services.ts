import type { Container, CosmosClient } from '@azure/cosmos';
import { type AppConfig, databaseAuthOf, loadConfig, requireCosmos, requirePostgres } from '../config/env.js';
import type { AppContext } from '../context/app-context.js';
import { PhaseReader } from '../context/phase-reader.js';
import { createCosmosClient, documentsContainer } from '../cosmos/cosmos-client.js';
import { postgresCredentialsFor } from '../postgres/entra-credentials.js';
import { createPrismaClient, type PrismaClient } from '../postgres/prisma-client.js';

/**
 * The one place this process's database clients live. Functions, the CLI and the RepositoryFactory
 * all ask `getServices()`; nothing else creates a client. Each client is created on first use, so a
 * Function that never touches Cosmos never connects to it, and a missing setting is reported by name
 * (`requirePostgres`/`requireCosmos`) only when something actually needs it.
 */
export type ServiceOverrides = Partial<{ config: AppConfig; prisma: PrismaClient; cosmos: Container }>;

class LazyServices implements AppContext {
  #config: AppConfig | undefined;
  #prisma: PrismaClient | undefined;
  #cosmos: Container | undefined;
  #phases: PhaseReader | undefined;
  // Only clients created here are closed here; injected ones belong to whoever injected them.
  #ownedPrisma: PrismaClient | undefined;
  #ownedCosmosClient: CosmosClient | undefined;

  constructor(overrides: ServiceOverrides) {
    this.#config = overrides.config;
    this.#prisma = overrides.prisma;
    this.#cosmos = overrides.cosmos;
  }

  get config(): AppConfig {
    this.#config ??= loadConfig();
    return this.#config;
  }

  get prisma(): PrismaClient {
    if (!this.#prisma) {
      const credentials = postgresCredentialsFor(databaseAuthOf(this.config));
      this.#ownedPrisma = createPrismaClient(requirePostgres(this.config), this.config.poolSize, credentials, this.config.postgresTimeouts);
      this.#prisma = this.#ownedPrisma;
    }
    return this.#prisma;
  }

  get cosmos(): Container {
    if (!this.#cosmos) {
      const settings = requireCosmos(this.config);
      this.#ownedCosmosClient = createCosmosClient(settings);
      this.#cosmos = documentsContainer(this.#ownedCosmosClient, settings);
    }
    return this.#cosmos;
  }

  get phases(): PhaseReader {
    this.#phases ??= new PhaseReader(() => this.prisma, this.config);
    return this.#phases;
  }

  async close(): Promise<void> {
    this.#ownedCosmosClient?.dispose();
    await this.#ownedPrisma?.$disconnect();
  }
}

let current: LazyServices | undefined;

/** This process's services, created on first call from the environment (`loadConfig()`). */
export function getServices(): AppContext {
  current ??= new LazyServices({});
  return current;
}

/**
 * Replaces the process's services (tests, the demo): given clients are used as they are, the rest
 * are still created lazily from `overrides.config` (or the environment). Clients the previous
 * services created are closed.
 */
export function useServices(overrides: ServiceOverrides): AppContext {
  const previous = current;
  current = new LazyServices(overrides);
  // Closing is best effort: the replaced clients are no longer reachable by anyone.
  void previous?.close().catch(() => undefined);
  return current;
}

/** Disconnects the clients this module created; the next `getServices()` starts afresh. */
export async function closeServices(): Promise<void> {
  const closing = current;
  current = undefined;
  await closing?.close();
}
