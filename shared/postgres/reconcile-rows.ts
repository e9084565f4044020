import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import type { Prisma } from './generated/prisma/client.js';
import type { PrismaClient } from './prisma-client.js';
import { inRemovalTransaction } from './removal-transaction.js';
import { awaitingCosmosSql } from './version-order.js';

/**
 * The PostgreSQL side of a reconcile pass's removals (its walk of a feed range's rows is `range-rows.ts`): rows
 * whose documents are gone from Cosmos are removed compare-and-delete on the version the pass saw, each removed row
 * copied to `reconciled_deletes` and remembered as a tombstone in the same transaction.
 */

/** A row as the pass sees it: where it is, whose it is, and the version it holds. */
export interface ReconcileRow {
  table: string;
  id: string;
  pubkey: string;
  cosmosTs: bigint;
  cosmosLsn: bigint | null;
  cosmosEtag: string | null;
}

const tables = documentTypeNames.map((type) => documentTypes[type].table);

/** What a removal did: rows removed (each copied to `reconciled_deletes`), and those kept because their version changed. */
export interface RemovalResult<R extends ReconcileRow = ReconcileRow> {
  removed: R[];
  changed: number;
}

/**
 * Per table: remove the listed rows that still hold exactly the version the pass saw (`cosmosTs`, `cosmosLsn`,
 * `cosmosEtag`), copy each to `reconciled_deletes` as JSONB, and record a tombstone at that version (the newest
 * per document wins, as deletes record them; every statement of a WITH runs whether or not it is read), so a stale
 * page carrying it cannot write the row back; a version written since (the document created again) is newer than
 * the tombstone and is kept. A row PostgreSQL wrote that Cosmos has not confirmed yet is never removed (rule 7 of
 * `version-order.ts`): Cosmos lacks it because the mirror has not copied it, not because it was deleted.
 */
const removalStatement = (table: string) => `WITH gone AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) AS g("id", "pubkey", "ts", "lsn", "etag")),
  removed AS (DELETE FROM "${table}" t USING gone g
    WHERE t."id" = g."id" AND t."pubkey" = g."pubkey" AND t."cosmosTs" = g."ts"
      AND t."cosmosLsn" IS NOT DISTINCT FROM g."lsn" AND t."cosmosEtag" IS NOT DISTINCT FROM g."etag"
      AND NOT ${awaitingCosmosSql('t')}
    RETURNING t.*),
  audited AS (INSERT INTO "reconciled_deletes" ("passId", "table", "id", "pubkey", "row")
    SELECT $6, '${table}', r."id", r."pubkey", to_jsonb(r) FROM removed r),
  buried AS (INSERT INTO "tombstones" AS tb ("pubkey", "id", "cosmosTs", "cosmosLsn")
    SELECT r."pubkey", r."id", r."cosmosTs", r."cosmosLsn" FROM removed r
    ON CONFLICT ("pubkey", "id") DO UPDATE SET "cosmosTs" = EXCLUDED."cosmosTs", "cosmosLsn" = EXCLUDED."cosmosLsn", "deletedAt" = now()
    WHERE CASE WHEN tb."cosmosLsn" IS NOT NULL AND EXCLUDED."cosmosLsn" IS NOT NULL THEN EXCLUDED."cosmosLsn" > tb."cosmosLsn"
      ELSE EXCLUDED."cosmosTs" > tb."cosmosTs" OR (EXCLUDED."cosmosTs" = tb."cosmosTs" AND EXCLUDED."cosmosLsn" IS NOT NULL) END)
  SELECT r."id", r."pubkey" FROM removed r`;

const removalStatements = new Map(tables.map((table) => [table, removalStatement(table)]));

/**
 * Removes `rows` (confirmed gone from Cosmos) in one transaction, each only if unchanged since the pass read
 * it; see {@link removalStatement}. Takes the documents' identity locks first, as deletes do, so a concurrent
 * write of one of them waits for this removal or this removal for it. `beforeCommit` runs last in the
 * transaction with what was removed (the pass commits its page there; if it throws, nothing is removed).
 * Retried on transient errors.
 */
export async function removeReconciledRows<R extends ReconcileRow>(
  prisma: PrismaClient,
  passId: string,
  rows: readonly R[],
  beforeCommit?: (tx: Prisma.TransactionClient, removal: RemovalResult<R>) => Promise<void>,
): Promise<RemovalResult<R>> {
  if (rows.length === 0 && !beforeCommit) return { removed: [], changed: 0 };
  const byTable = new Map<string, R[]>();
  for (const row of rows) byTable.set(row.table, [...(byTable.get(row.table) ?? []), row]);
  return inRemovalTransaction(
    prisma,
    rows.map((row) => row.id),
    async (tx) => {
      const removed: R[] = [];
      for (const [table, listed] of byTable) {
        const statement = removalStatements.get(table);
        if (!statement) throw new Error(`not a document table: ${table}`);
        const gone = await tx.$queryRawUnsafe<Array<{ id: string; pubkey: string }>>(
          statement,
          listed.map((row) => row.id),
          listed.map((row) => row.pubkey),
          listed.map((row) => row.cosmosTs),
          listed.map((row) => row.cosmosLsn),
          listed.map((row) => row.cosmosEtag),
          passId,
        );
        const keys = new Set(gone.map((row) => JSON.stringify([row.pubkey, row.id])));
        removed.push(...listed.filter((row) => keys.has(JSON.stringify([row.pubkey, row.id]))));
      }
      const removal = { removed, changed: rows.length - removed.length };
      await beforeCommit?.(tx, removal);
      return removal;
    },
    // Several feed ranges remove at once, from one pool: wait for a connection, and for the page, as deletes do.
    { maxWait: 30_000, timeout: 120_000 },
  );
}

const countStatement = `SELECT (${tables.map((table) => `(SELECT count(*) FROM "${table}")`).join(' + ')})::bigint AS "rows"`;

/** Rows in every document table together: what a pass will compare (for progress). */
export async function countReconcileRows(prisma: PrismaClient): Promise<number> {
  const [answer] = await prisma.$queryRawUnsafe<Array<{ rows: bigint }>>(countStatement);
  return Number(answer?.rows ?? 0);
}
