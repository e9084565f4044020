import { documentTypeOf } from '../../shared/domain/document-types.js';
import { applyDocuments, type ApplyResult } from '../../shared/migration/apply-documents.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { benchDocuments } from '../document-stream.js';
import type { VariantRun } from './variant.js';

/**
 * The migration's write path as the migration drives it: pages of one document type (the migration
 * reads each type with its own query), each written by `applyDocuments` (map, version-guarded
 * set-based upsert, quarantine, one transaction per page) while the next page is being produced, as
 * the engine reads the next Cosmos page while writing the previous one. Fed from a generated stream,
 * so the documents are never all in memory: at most one page per type is buffered.
 */
export const pipeline: VariantRun = async ({ documents, databaseUrl, batchSize, sampler }) => {
  const prisma = createPrismaClient(databaseUrl, 5);
  try {
    // Connecting and loading the query engine is not what is measured.
    await prisma.$queryRawUnsafe('SELECT 1');
    const started = performance.now();
    let written = 0;
    let quarantined = 0;
    const tally = (result: ApplyResult) => {
      written += result.written;
      quarantined += result.quarantined + result.failed;
      sampler.sample();
    };
    let inFlight: Promise<void> | undefined;
    for (const page of pagesByType(benchDocuments(documents), batchSize)) {
      await inFlight;
      inFlight = applyDocuments(prisma, page, { source: 'migration' }).then(tally);
    }
    await inFlight;
    return { documents, seconds: (performance.now() - started) / 1000, notes: `${written} written, ${quarantined} quarantined` };
  } finally {
    await prisma.$disconnect();
  }
};

/** The stream cut into pages of one type each, as the migration's per-type queries return them. */
function* pagesByType(documents: Iterable<Record<string, unknown>>, size: number): Generator<unknown[]> {
  const buffers = new Map<string, unknown[]>();
  for (const document of documents) {
    const type = documentTypeOf(document.type) ?? 'other';
    const buffer = buffers.get(type) ?? [];
    buffer.push(document);
    if (buffer.length < size) {
      buffers.set(type, buffer);
      continue;
    }
    buffers.delete(type);
    yield buffer;
  }
  for (const buffer of buffers.values()) yield buffer;
}
