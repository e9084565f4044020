import { documentTypes } from '../../shared/domain/document-types.js';
import { documentToRow } from '../../shared/domain/mapping.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { toPrismaData } from '../../shared/postgres/row-values.js';
import { generateBenchDocuments } from '../document-stream.js';
import { Stopwatch } from '../stopwatch.js';
import type { VariantRun } from './variant.js';

/** A Prisma model delegate, as far as this loop uses it. */
interface UpsertDelegate {
  upsert(args: { where: Record<string, unknown>; create: Record<string, unknown>; update: Record<string, unknown> }): Promise<unknown>;
}

/**
 * What the old utility did: one `prisma.<model>.upsert` per document, awaited in turn (so one connection
 * at a time), over documents generated beforehand. Same mapping, same rows; no version guard or quarantine
 * (which would only make it slower).
 */
export const naiveUpsert: VariantRun = async ({ documents, databaseUrl, sampler }) => {
  const input = generateBenchDocuments(documents);
  sampler.markInput();
  const prisma = createPrismaClient(databaseUrl, 1);
  try {
    // Connecting and loading the query engine is not what is measured.
    await prisma.$queryRawUnsafe('SELECT 1');
    const stopwatch = await Stopwatch.create(databaseUrl);
    await stopwatch.start();
    let written = 0;
    for (const document of input) {
      const mapped = documentToRow(document);
      if (!mapped.ok) continue;
      const descriptor = documentTypes[mapped.type];
      const data = toPrismaData(mapped.type, mapped.row);
      const delegate = (prisma as unknown as Record<string, UpsertDelegate>)[descriptor.model] as UpsertDelegate;
      await delegate.upsert({ where: { [descriptor.key]: data[descriptor.key] }, create: data, update: data });
      written += 1;
      if (written % 100 === 0) sampler.sample();
    }
    return { documents, ...(await stopwatch.stop()), notes: `${written} written` };
  } finally {
    await prisma.$disconnect();
  }
};
