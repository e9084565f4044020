import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import type { DeletedDocument } from './change-feed-items.js';

/**
 * Deletes the rows of documents deleted in Cosmos, guarded by version: a row is removed only if the
 * version it holds (`cosmosTs`) is not newer than the delete, so a document deleted and created again
 * keeps its new row whatever order the two changes arrive in. The delete does not say which type the
 * document was, and ids are unique in every table, so one statement tries all seven tables.
 */
export async function applyDeletes(prisma: PrismaClient, deletes: readonly DeletedDocument[]): Promise<{ deleted: number }> {
  if (deletes.length === 0) return { deleted: 0 };
  // One entry per id, the latest delete: unnest would otherwise match a row twice.
  const latest = new Map<string, DeletedDocument>();
  for (const entry of deletes) {
    const seen = latest.get(entry.id);
    if (!seen || entry.ts > seen.ts) latest.set(entry.id, entry);
  }
  const entries = [...latest.values()];
  const perTable = documentTypeNames.map(
    (type, index) =>
      // Table names come from the descriptors, never from input; every value is a parameter.
      `d${index} AS (DELETE FROM "${documentTypes[type].table}" t USING gone
        WHERE t."id" = gone.id AND (gone.pubkey IS NULL OR t."pubkey" = gone.pubkey) AND t."cosmosTs" <= gone.ts
        RETURNING 1)`,
  );
  const total = documentTypeNames.map((_, index) => `(SELECT count(*) FROM d${index})`).join(' + ');
  const [row] = await prisma.$queryRawUnsafe<Array<{ deleted: bigint }>>(
    `WITH gone AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS g(id, pubkey, ts)),
      ${perTable.join(',\n      ')}
     SELECT (${total})::bigint AS deleted`,
    entries.map((entry) => entry.id),
    entries.map((entry) => entry.pubkey ?? null),
    entries.map((entry) => entry.ts),
  );
  return { deleted: Number(row?.deleted ?? 0) };
}
