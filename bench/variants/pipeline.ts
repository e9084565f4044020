import { documentTypeOf } from '../../shared/domain/document-types.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { type ApplyResult, applyDocuments } from '../../shared/write-path/apply-documents.js';
import { generateBenchDocuments } from '../document-stream.js';
import { Stopwatch } from '../stopwatch.js';
import type { VariantRun } from './variant.js';

/**
 * The migration's write path as the migration drives it: pages, each written by `applyDocuments` (map,
 * validate, version-guarded write, quarantine, one transaction per page); `connections` pages in flight at
 * once, through a pool of that many connections (as many as raw-copy uses), and one lane's pages strictly
 * in order, as one feed range's are. Pages hold one document type each, which puts each page in one table
 * as raw-copy's chunks are. More pages in flight than connections measured no faster (45.6k docs/s with 2,
 * 3 or 4 over 2 connections): the process's one JavaScript thread, busy ~80% of the time, is the limit.
 * The documents are generated and cut into pages before the clock starts, as they would arrive from Cosmos.
 */
export const pipeline: VariantRun = async ({ documents, databaseUrl, batchSize, sampler, connections }) => {
  const pages = pagesByType(generateBenchDocuments(documents), batchSize);
  sampler.markInput();
  const prisma = createPrismaClient(databaseUrl, connections);
  try {
    // Open every connection of the pool first: connecting is not what is measured.
    await Promise.all(Array.from({ length: connections }, () => prisma.$transaction(async (tx) => tx.$queryRawUnsafe('SELECT 1'))));
    const stopwatch = await Stopwatch.create(databaseUrl);
    await stopwatch.start();
    let written = 0;
    let quarantined = 0;
    const tally = (result: ApplyResult) => {
      written += result.written;
      quarantined += result.quarantined + result.failed;
      sampler.sample();
    };
    const inFlight = new Map<string, Promise<void>>();
    for (const { type, page } of pages) {
      await inFlight.get(type);
      while (inFlight.size >= connections) await Promise.race(inFlight.values());
      const write: Promise<void> = applyDocuments(prisma, page, { source: 'migration' })
        .then(tally)
        .finally(() => {
          if (inFlight.get(type) === write) inFlight.delete(type);
        });
      inFlight.set(type, write);
    }
    await Promise.all(inFlight.values());
    return { documents, ...(await stopwatch.stop()), notes: `${written} written, ${quarantined} quarantined` };
  } finally {
    await prisma.$disconnect();
  }
};

/** The documents cut into pages of one type each, in the order the migration's per-type queries would return them. */
function pagesByType(documents: readonly Record<string, unknown>[], size: number): Array<{ type: string; page: unknown[] }> {
  const pages: Array<{ type: string; page: unknown[] }> = [];
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
    pages.push({ type, page: buffer });
  }
  for (const [type, page] of buffers) pages.push({ type, page });
  return pages;
}
