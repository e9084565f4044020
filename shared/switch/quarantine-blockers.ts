import { documentTypeNames, documentTypes, typeValuesOf } from '../domain/document-types.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { compareEntryWithRowSql } from '../postgres/version-order.js';

/** Quarantined versions that would make PostgreSQL serve something other than what Cosmos holds. */
export interface QuarantineBlockers {
  count: number;
  byReason: Record<string, number>;
  /** A few entry keys, to look at first. */
  examples: string[];
}

/**
 * The quarantine entries that block a switch: every entry waiting for a row (`conflict`, `displaced`) or kept as
 * `diverged`, and every other entry (a version no table can hold) of a document whose row holds an OLDER version.
 * An entry of a document with no row at all, or older than its row, is one no table can hold: listed by
 * verification, not a blocker.
 */
export async function quarantineBlockers(prisma: PrismaClient): Promise<QuarantineBlockers> {
  const newerThanRow = documentTypeNames.map((type) => {
    const values = typeValuesOf(type)
      .map((value) => `'${value.replaceAll("'", "''")}'`)
      .join(', ');
    // Table names and type values come from the descriptors, never from input.
    return `SELECT q."key", q."reasonCode" FROM "quarantine" q JOIN "${documentTypes[type].table}" t
      ON t."id" = q."documentId" AND t."pubkey" = q."pubkey"
      WHERE q."type" IN (${values}) AND q."reasonCode" NOT IN ('conflict', 'displaced', 'diverged')
        AND ${compareEntryWithRowSql(type, 'q', 't')} > 0`;
  });
  const rows = await prisma.$queryRawUnsafe<Array<{ key: string; reasonCode: string }>>(
    `SELECT "key", "reasonCode" FROM "quarantine" WHERE "reasonCode" IN ('conflict', 'displaced', 'diverged')
     UNION ${newerThanRow.join('\nUNION ')}
     ORDER BY "key" LIMIT 10000`,
  );
  const byReason: Record<string, number> = {};
  for (const row of rows) byReason[row.reasonCode] = (byReason[row.reasonCode] ?? 0) + 1;
  return { count: rows.length, byReason, examples: rows.slice(0, 5).map((row) => row.key) };
}
