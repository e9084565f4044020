import { documentTypeOf } from '../../shared/domain/document-types.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { type ApplyResult, applyDocuments } from '../../shared/write-path/apply-documents.js';
import { benchDocuments } from '../document-stream.js';
import type { VariantRun } from './variant.js';

/** Types written at once, as a full migration runs them (`concurrency`, default 2, in run-migration.ts). */
const lanes = 2;

/**
 * The migration's write path as a full migration drives it: pages of one document type (each type is
 * read with its own query), each written by `applyDocuments` (map, version-guarded set-based upsert,
 * quarantine, one transaction per page); two types in flight at once, and one type's pages strictly in
 * order. Fed from a generated stream, so the documents are never all in memory: at most one page per
 * type is buffered.
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
    const inFlight = new Map<string, Promise<void>>();
    for (const { type, page } of pagesByType(benchDocuments(documents), batchSize)) {
      await inFlight.get(type);
      while (inFlight.size >= lanes) await Promise.race(inFlight.values());
      const write: Promise<void> = applyDocuments(prisma, page, { source: 'migration' })
        .then(tally)
        .finally(() => {
          if (inFlight.get(type) === write) inFlight.delete(type);
        });
      inFlight.set(type, write);
    }
    await Promise.all(inFlight.values());
    return { documents, seconds: (performance.now() - started) / 1000, notes: `${written} written, ${quarantined} quarantined` };
  } finally {
    await prisma.$disconnect();
  }
};

/** The stream cut into pages of one type each, as the migration's per-type queries return them. */
function* pagesByType(documents: Iterable<Record<string, unknown>>, size: number): Generator<{ type: string; page: unknown[] }> {
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
    yield { type, page: buffer };
  }
  for (const [type, page] of buffers) yield { type, page };
}
