import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import { DataMigrationUtility } from '../../shared/api/data-migration-utility.js';
import type { AppConfig } from '../../shared/config/env.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { closeServices, useServices } from '../../shared/runtime/services.js';
import { benchDocuments } from '../document-stream.js';
import { Stopwatch } from '../stopwatch.js';
import type { VariantRun } from './variant.js';

/**
 * The whole migration as users run it: `DataMigrationUtility.migrateAll` reading the change feed of the
 * Cosmos double (4 physical partitions) through the real SDK, one chain per feed range, and writing each
 * page with its checkpoint into PostgreSQL. Loading the double first is not timed. The double runs in this
 * process, so the peak memory includes it holding every document, and the client CPU includes its work.
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
    sampler.markInput();
    const stopwatch = await Stopwatch.create(databaseUrl);
    await stopwatch.start();
    const result = await DataMigrationUtility.migrateAll({ batchSize, onProgress: () => sampler.sample() });
    const elapsed = await stopwatch.stop();
    const ranges = Object.values(result.processedByPart).map((count) => (count ?? 0).toLocaleString('en-US'));
    return {
      documents: result.processed,
      ...elapsed,
      requestUnits: result.requestUnits,
      notes: `${result.written} written, ${result.quarantined + result.failed} quarantined; per feed range ${ranges.join(' + ')}`,
    };
  } finally {
    await closeServices();
    await prisma.$disconnect();
    await cosmos.stop();
  }
};
