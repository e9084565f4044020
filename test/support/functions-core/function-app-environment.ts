import { randomBytes } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { InvocationContext, type InvocationContextInit } from '@azure/functions';
import { type AppConfig, loadConfig, requireQueue } from '../../../shared/config/env.js';
import type { PrismaClient } from '../../../shared/postgres/prisma-client.js';
import { closeServices, useServices } from '../../../shared/runtime/services.js';
import { type MigrationQueues, migrationQueues } from '../../../shared/storage-queue/queue-client.js';
import { type AzuriteTestServer, startAzurite } from '../azurite.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../cosmos.js';
import { createTestDatabase, type TestDatabase } from '../postgres.js';
import { type CapturedRegistration, loadFunctionApp } from './load-function-app.js';
import { type DrainOptions, type DrainResult, drainQueue } from './queue-host.js';

/** host.json's `extensions.queues.maxDequeueCount`, which the queue-host loop applies as the host does. */
export const maxDequeueCount = 5;

/**
 * The function app on real services: this file's own PostgreSQL database, a Cosmos container on the
 * Cosmos-protocol server (through the real SDK, over TLS), an in-memory Azurite queue service, and the
 * app's functions as registered through @azure/functions. The process's services (`getServices()`,
 * which every function uses) point at them.
 */
export interface FunctionAppEnvironment {
  db: TestDatabase;
  cosmos: CosmosTestServer;
  container: Container;
  azurite: AzuriteTestServer;
  config: AppConfig;
  queues: MigrationQueues;
  registrations: Map<string, CapturedRegistration>;
  /** Everything the functions logged through their InvocationContext. */
  logs: Array<{ level: string; message: string }>;
  registration(name: string): CapturedRegistration;
  /** An invocation context as the host builds one, logging into `logs`. */
  context(functionName: string, init?: Omit<InvocationContextInit, 'functionName' | 'logHandler'>): InvocationContext;
  /** Points the process's services at a changed configuration and/or another Prisma client. */
  useServices(overrides: { config?: Partial<AppConfig>; prisma?: PrismaClient }): void;
  /** Back to this environment's own services. */
  restoreServices(): void;
  /** Runs the migration queue function until the queue is empty, as the host would (see queue-host.ts). */
  drain(options?: Pick<DrainOptions, 'duplicate' | 'batchSize'>): Promise<DrainResult>;
  stop(): Promise<void>;
}

export async function startFunctionAppEnvironment(env: Record<string, string> = {}): Promise<FunctionAppEnvironment> {
  const [db, cosmos, azurite] = await Promise.all([createTestDatabase(), startCosmosServer(), startAzurite()]);
  const container = await createTestContainer(cosmos.client);
  const config = loadConfig({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.connectionString,
    AzureWebJobsStorage: azurite.connectionString,
    MIGRATION_QUEUE_NAME: `migration-${randomBytes(4).toString('hex')}`,
    ...env,
  });
  const queues = migrationQueues(requireQueue(config));
  await queues.ensureExist();
  const restoreServices = () => {
    useServices({ config, prisma: db.prisma, cosmos: container });
  };
  restoreServices();
  const { registrations } = await loadFunctionApp();
  const logs: FunctionAppEnvironment['logs'] = [];
  const registration = (name: string) => {
    const found = registrations.get(name);
    if (!found) throw new Error(`function ${name} was not registered`);
    return found;
  };
  return {
    db,
    cosmos,
    container,
    azurite,
    config,
    queues,
    registrations,
    logs,
    registration,
    context: (functionName, init = {}) =>
      new InvocationContext({
        invocationId: `test-${randomBytes(4).toString('hex')}`,
        ...init,
        functionName,
        logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(' ') }),
      }),
    useServices: (overrides) => {
      useServices({ config: { ...config, ...overrides.config }, prisma: overrides.prisma ?? db.prisma, cosmos: container });
    },
    restoreServices,
    drain: (options = {}) => drainQueue(queues, registration('migrationQueue'), { ...options, maxDequeueCount, logs }),
    stop: async () => {
      await closeServices();
      await Promise.allSettled([db.drop(), cosmos.stop(), azurite.stop()]);
    },
  };
}
