import { createCosmosRepositories } from '../../shared/cosmos/cosmos-repository.js';
import type { Repositories } from '../../shared/domain/repository-contract.js';
import { createPrismaRepositories } from '../../shared/postgres/prisma-repository.js';
import { createTestContainer, startCosmosServer } from './cosmos.js';
import { createTestDatabase } from './postgres.js';

/** One database behind the generic repositories, for contract suites that run unchanged on both. */
export interface RepositoryBackend {
  /** Repositories on the file's shared store: for tests that only look at their own users' documents. */
  repositories: Repositories;
  /**
   * Repositories on a store of their own, empty: for tests of queries across users (newest accounts,
   * pending jobs, every subscriber), whose answers must not depend on what other tests wrote.
   */
  fresh(): Promise<Repositories>;
  close(): Promise<void>;
}

export interface RepositoryBackendSpec {
  name: string;
  open: () => Promise<RepositoryBackend>;
}

/** Cosmos through the real SDK on the project's Cosmos double (one container per store), and PostgreSQL (one database per store). */
export const repositoryBackends: RepositoryBackendSpec[] = [
  {
    name: 'Cosmos (@azure/cosmos against the Cosmos double)',
    open: async () => {
      const server = await startCosmosServer();
      return {
        repositories: createCosmosRepositories(await createTestContainer(server.client)),
        fresh: async () => createCosmosRepositories(await createTestContainer(server.client)),
        close: () => server.stop(),
      };
    },
  },
  {
    name: 'PostgreSQL (Prisma)',
    open: async () => {
      const shared = await createTestDatabase();
      const extra: Array<{ drop(): Promise<void> }> = [];
      return {
        repositories: createPrismaRepositories(shared.prisma),
        fresh: async () => {
          const db = await createTestDatabase();
          extra.push(db);
          return createPrismaRepositories(db.prisma);
        },
        close: async () => {
          await Promise.all([shared.drop(), ...extra.map((db) => db.drop())]);
        },
      };
    },
  },
];
