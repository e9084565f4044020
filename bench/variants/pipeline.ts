import { applyDocuments } from '../../shared/migration/apply-documents.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { benchDocuments, inBatches } from '../document-stream.js';
import type { VariantRun } from './variant.js';

/**
 * The migration's write path exactly as the migration calls it: `applyDocuments` on each page (map,
 * version-guarded set-based upsert, quarantine, one transaction per page), fed from a generated
 * stream so the documents are never all in memory.
 */
export const pipeline: VariantRun = async ({ documents, databaseUrl, batchSize, sampler }) => {
  const prisma = createPrismaClient(databaseUrl, 5);
  try {
    // Connecting and loading the query engine is not what is measured.
    await prisma.$queryRawUnsafe('SELECT 1');
    const started = performance.now();
    let written = 0;
    let quarantined = 0;
    for (const batch of inBatches(benchDocuments(documents), batchSize)) {
      const result = await applyDocuments(prisma, batch, { source: 'migration' });
      written += result.written;
      quarantined += result.quarantined + result.failed;
      sampler.sample();
    }
    return { documents, seconds: (performance.now() - started) / 1000, notes: `${written} written, ${quarantined} quarantined` };
  } finally {
    await prisma.$disconnect();
  }
};
