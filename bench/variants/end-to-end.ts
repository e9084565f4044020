import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import { DataMigrationUtility } from '../../shared/api/data-migration-utility.js';
import type { AppConfig } from '../../shared/config/env.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { closeServices, useServices } from '../../shared/runtime/services.js';
import { benchDocuments } from '../document-stream.js';
import type { VariantRun } from './variant.js';

/**
 * The whole migration as users run it: `DataMigrationUtility.migrateAll` reading pages from the
 * Cosmos-protocol server through the real SDK and writing them, with checkpoints, into PostgreSQL.
 * Loading the server first is not timed. The server runs in this process, so the peak memory
 * includes the stand-in holding every document.
 */
export const endToEnd: VariantRun = async ({ documents, databaseUrl, batchSize, sampler }) => {
  const cosmos = await startLocalCosmosServer();
  const prisma = createPrismaClient(databaseUrl, 5);
  try {
    const container = await cosmos.createDocumentsContainer();
    await loadDocuments(container, benchDocuments(documents));
    const config: AppConfig = {
      databaseUrl,
      poolSize: 5,
      usePostgres: false,
      dualDatabaseMode: false,
      migrationMode: true,
      cosmos: cosmos.settings,
    };
    useServices({ config, prisma, cosmos: container });
    await prisma.$queryRawUnsafe('SELECT 1');
    const started = performance.now();
    const result = await DataMigrationUtility.migrateAll({ batchSize, onProgress: () => sampler.sample() });
    const seconds = (performance.now() - started) / 1000;
    return { documents: result.processed, seconds, notes: `${result.written} written, ${result.quarantined + result.failed} quarantined` };
  } finally {
    await closeServices();
    await prisma.$disconnect();
    await cosmos.stop();
  }
};
