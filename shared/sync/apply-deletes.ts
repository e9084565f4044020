import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import { isStorableText } from '../domain/storable-json.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { inRemovalTransaction } from '../postgres/removal-transaction.js';
import { defaultDeleteRetentionDays, purgeTombstones } from '../postgres/tombstones.js';
import { entryBuriedSql, goneSinceSql, olderThanDeleteSql, tiedWithDeleteSql } from '../postgres/version-order.js';
import { quarantineKey } from '../write-path/quarantine.js';
import type { DeletedDocument } from './change-feed-items.js';

/**
 * Deletes in PostgreSQL what was deleted in Cosmos, so that no row outlives its document and no delete erases
 * a document created again (the order is rule 6 of `version-order.ts`). For each delete, in one transaction:
 * - a tombstone is recorded (the newest delete per document), so that a version read before the delete (a
 *   migration page, a late batch) is never written afterwards; tombstones older than the retention are purged;
 * - the row is removed if it is older than the delete; a row the delete cannot be ordered against (the same
 *   second, without both change-feed positions) is kept and reported as a TIE: the caller reads the document's
 *   current state in Cosmos and settles it ({@link removeUnchanged} if it is gone);
 * - the quarantine entry of the deleted document is closed (its version is not newer than the delete): kept, with
 *   when and what saw the delete, and no longer open;
 * - documents quarantined as competitors for a removed row (`conflict`, `displaced`) are reported as
 *   RECONSIDER: the row they wanted is free, and the caller reads them again from Cosmos and applies them.
 * The delete does not say which type the document was, and ids are unique in every table, so every table is
 * tried. A delete whose id or partition key PostgreSQL text cannot hold names nothing PostgreSQL can hold.
 */

/** A delete to apply. `inclusive`: the version at exactly this position is gone too (a read found it missing). */
export interface DeleteToApply extends DeletedDocument {
  inclusive?: boolean;
}

/** One document, as the caller reads it back from Cosmos. */
export interface DocumentRef {
  id: string;
  pubkey: string;
  /** The change-feed position of the version the quarantine holds, when it has one: a read now returns it or a later one. */
  lsn?: number;
}

/** A row a delete could not be ordered against, with the version it holds (for {@link removeUnchanged}). */
export interface TiedRow extends DocumentRef {
  cosmosTs: number;
  cosmosEtag: string | null;
  /** The delete's change-feed position, when known: a document present after it was created again after it. */
  deleteLsn?: number;
}

export interface DeleteOutcome {
  /** Rows removed. */
  deleted: number;
  ties: TiedRow[];
  reconsider: DocumentRef[];
  /** Deletes naming an id or partition key no row can have (NUL, a lone surrogate): nothing to do. */
  ignored: number;
}

export interface ApplyDeletesOptions {
  /** Days a tombstone is kept (DELETE_RETENTION_DAYS); older ones are purged as deletes are applied. */
  retentionDays?: number;
  /** What the closed quarantine entries record as having seen the delete (default `sync`). */
  closedBy?: string;
}

/** The longest identity a tombstone records, in UTF-8 bytes: its (pubkey, id) key must fit a btree index row. */
const maxTombstoneIdentityBytes = 2000;

type Tx = Prisma.TransactionClient;

function identityOf(entry: DeleteToApply): string {
  return JSON.stringify([entry.partitionKey !== undefined ? { partitionKey: entry.partitionKey } : (entry.pubkey ?? null), entry.id]);
}

/** Of two deletes of one document, the later: by positions when both have one, else by commit time. */
function isLater(a: DeleteToApply, b: DeleteToApply): boolean {
  if (a.lsn !== undefined && b.lsn !== undefined) return a.lsn > b.lsn;
  return a.ts > b.ts || (a.ts === b.ts && a.lsn !== undefined && b.lsn === undefined);
}

/** One delete per document (the later), leaving out those that name nothing PostgreSQL can hold. */
function latestDeletes(deletes: readonly DeleteToApply[]): { entries: DeleteToApply[]; ignored: number } {
  const latest = new Map<string, DeleteToApply>();
  let ignored = 0;
  for (const entry of deletes) {
    if (!isStorableText(entry.id) || (entry.pubkey !== undefined && !isStorableText(entry.pubkey))) {
      ignored += 1;
      continue;
    }
    const key = identityOf(entry);
    const seen = latest.get(key);
    if (!seen || isLater(entry, seen)) latest.set(key, entry);
  }
  return { entries: [...latest.values()], ignored };
}

const gone = (first: number) =>
  `gone AS (SELECT * FROM unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::bigint[], $${first + 3}::bigint[],
    $${first + 4}::boolean[]) AS g("id", "pubkey", "ts", "lsn", "inclusive"))`;

function goneParameters(entries: readonly DeleteToApply[]): unknown[] {
  return [
    entries.map((entry) => entry.id),
    entries.map((entry) => entry.pubkey ?? null),
    entries.map((entry) => entry.ts),
    entries.map((entry) => entry.lsn ?? null),
    entries.map((entry) => entry.inclusive === true),
  ];
}

async function recordTombstones(tx: Tx, entries: readonly DeleteToApply[]): Promise<void> {
  const recorded = entries.filter(
    (entry) => Buffer.byteLength(entry.id, 'utf8') + Buffer.byteLength(entry.pubkey ?? '', 'utf8') <= maxTombstoneIdentityBytes,
  );
  if (recorded.length === 0) return;
  await tx.$executeRawUnsafe(
    `WITH ${gone(1)}
     INSERT INTO "tombstones" AS t ("pubkey", "id", "cosmosTs", "cosmosLsn")
     SELECT COALESCE(g."pubkey", ''), g."id", g."ts", g."lsn" FROM gone g
     ON CONFLICT ("pubkey", "id") DO UPDATE SET "cosmosTs" = EXCLUDED."cosmosTs", "cosmosLsn" = EXCLUDED."cosmosLsn", "deletedAt" = now()
     WHERE CASE WHEN t."cosmosLsn" IS NOT NULL AND EXCLUDED."cosmosLsn" IS NOT NULL THEN EXCLUDED."cosmosLsn" > t."cosmosLsn"
       ELSE EXCLUDED."cosmosTs" > t."cosmosTs" OR (EXCLUDED."cosmosTs" = t."cosmosTs" AND EXCLUDED."cosmosLsn" IS NOT NULL) END`,
    ...goneParameters(recorded),
  );
}

interface RemovalRecord {
  kind: 'deleted' | 'tie';
  row: string | null;
  id: string | null;
  pubkey: string | null;
  cosmosTs: bigint | null;
  cosmosEtag: string | null;
  deleteLsn: bigint | null;
}

/** Per table: the rows the deletes remove (as `<table>:<key>`, what competitors name) and the rows they tie with. */
function removalStatement(): string {
  const deleted = { ts: 'g."ts"', lsn: 'g."lsn"' };
  const parts = documentTypeNames.map((type, index) => {
    const { table, key } = documentTypes[type];
    // Table and key names come from the descriptors, never from input; every value is a parameter.
    const match = `t."id" = g."id" AND (g."pubkey" IS NULL OR t."pubkey" = g."pubkey")`;
    return {
      ctes: `d${index} AS (DELETE FROM "${table}" t USING gone g WHERE ${match}
          AND CASE WHEN g."inclusive" THEN ${goneSinceSql('t', deleted)} ELSE ${olderThanDeleteSql('t', deleted)} END
          RETURNING '${table}:' || t."${key}" AS "row"),
        t${index} AS (SELECT t."id", t."pubkey", t."cosmosTs", t."cosmosEtag",
          CASE WHEN g."pubkey" IS NOT NULL THEN g."lsn" END AS "deleteLsn" FROM "${table}" t JOIN gone g ON ${match}
          WHERE NOT g."inclusive" AND ${tiedWithDeleteSql('t', deleted)})`,
      select: `SELECT 'deleted' AS "kind", "row", NULL::text AS "id", NULL::text AS "pubkey", NULL::bigint AS "cosmosTs",
          NULL::text AS "cosmosEtag", NULL::bigint AS "deleteLsn" FROM d${index}
        UNION ALL SELECT 'tie', NULL, "id", "pubkey", "cosmosTs", "cosmosEtag", "deleteLsn" FROM t${index}`,
    };
  });
  return `WITH ${gone(1)},\n${parts.map((part) => part.ctes).join(',\n')}\n${parts.map((part) => part.select).join('\nUNION ALL ')}`;
}

const removeStatement = removalStatement();

/**
 * The quarantine key of a deleted document, when the delete names its partition: the write path's own key of a
 * document with that id and partition key, whatever kind of value that is (text, a number, null, none).
 */
function deletedKey(entry: DeleteToApply): string | undefined {
  // Not `??`: a null partition key names the partition of documents whose pubkey is null.
  const partitionKey = entry.partitionKey !== undefined ? entry.partitionKey : entry.pubkey;
  if (partitionKey === undefined) return undefined;
  const isNone = partitionKey !== null && typeof partitionKey === 'object';
  return quarantineKey(isNone ? { id: entry.id } : { id: entry.id, pubkey: partitionKey });
}

/**
 * Closes the quarantine entries of deleted documents whose version the delete is not older than: kept, with
 * when and `closedBy`, no longer open. A delete that names its partition closes its document's entry; one that
 * does not closes the entries of that id in every partition, as it removes rows.
 */
async function closeQuarantined(tx: Tx, entries: readonly DeleteToApply[], closedBy: string): Promise<void> {
  const deleted = { ts: 'g."ts"', lsn: 'g."lsn"' };
  const close = `UPDATE "quarantine" q SET "status" = 'closed', "closedAt" = now(), "closedBy" = $4
     FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS g("name", "ts", "lsn")`;
  const named = entries.flatMap((entry) => {
    const key = deletedKey(entry);
    return key === undefined ? [] : [{ entry, key }];
  });
  if (named.length > 0) {
    await tx.$executeRawUnsafe(
      `${close} WHERE q."key" = g."name" AND q."status" <> 'closed' AND ${entryBuriedSql('q', deleted)}`,
      named.map(({ key }) => key),
      named.map(({ entry }) => entry.ts),
      named.map(({ entry }) => entry.lsn ?? null),
      closedBy,
    );
  }
  const unnamed = entries.filter((entry) => deletedKey(entry) === undefined);
  if (unnamed.length > 0) {
    await tx.$executeRawUnsafe(
      `${close} WHERE q."documentId" = g."name" AND q."status" <> 'closed' AND ${entryBuriedSql('q', deleted)}`,
      unnamed.map((entry) => entry.id),
      unnamed.map((entry) => entry.ts),
      unnamed.map((entry) => entry.lsn ?? null),
      closedBy,
    );
  }
}

/**
 * The rows the deletes free or may have freed, as competitors name them (`<table>:<key>`): rows just removed,
 * and every row the deleted documents could have held, so that a retry after a failure further on (the
 * rows already gone) still finds the competitors waiting for them.
 */
function rowsFreedBy(entries: readonly DeleteToApply[], removed: readonly string[]): string[] {
  const rows = new Set(removed);
  for (const type of documentTypeNames) {
    const { table, key } = documentTypes[type];
    for (const entry of entries) {
      if (key === 'id') rows.add(`${table}:${entry.id}`);
      else if (entry.pubkey !== undefined) rows.add(`${table}:${entry.pubkey}`);
    }
  }
  return [...rows];
}

/** Per table: competitors waiting for one of the `$1` rows of that table, now that no row holds it. */
const competitorsStatement = documentTypeNames
  .map((type) => {
    const { table, key } = documentTypes[type];
    const prefix = `${table}:`;
    return `SELECT q."key", q."documentId", q."pubkey",
        CASE WHEN jsonb_typeof(q."document" -> '_lsn') = 'number' THEN (q."document" ->> '_lsn')::numeric END AS "lsn"
      FROM "quarantine" q
      WHERE q."competesFor" = ANY($1::text[]) AND left(q."competesFor", ${prefix.length}) = '${prefix}'
        AND q."reasonCode" IN ('conflict', 'displaced') AND q."status" <> 'closed'
        AND q."documentId" IS NOT NULL AND q."pubkey" IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM "${table}" t WHERE t."${key}" = substr(q."competesFor", ${prefix.length + 1}))`;
  })
  .join('\nUNION ALL ');

/**
 * Competitors quarantined for rows that are free now (`<table>:<key>`, as they name them): the documents may take
 * them. Also for rows freed outside {@link applyDeletes}, by a reconcile pass.
 */
export async function competitorsFor(tx: Pick<Tx, '$queryRawUnsafe'>, rows: readonly string[]): Promise<DocumentRef[]> {
  if (rows.length === 0) return [];
  const found = await tx.$queryRawUnsafe<Array<{ key: string; documentId: string; pubkey: string; lsn: unknown }>>(competitorsStatement, [
    ...new Set(rows),
  ]);
  return found
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => {
      // numeric comes back as a Decimal; a position is a whole number that fits a double exactly.
      const lsn = entry.lsn === null ? Number.NaN : Number(entry.lsn);
      return { id: entry.documentId, pubkey: entry.pubkey, ...(Number.isSafeInteger(lsn) && lsn >= 0 ? { lsn } : {}) };
    });
}

function tiesOf(records: readonly RemovalRecord[]): TiedRow[] {
  const ties = new Map<string, TiedRow>();
  for (const record of records) {
    if (record.kind !== 'tie' || record.id === null || record.pubkey === null) continue;
    const key = JSON.stringify([record.pubkey, record.id]);
    const deleteLsn = record.deleteLsn === null ? undefined : Number(record.deleteLsn);
    const seen = ties.get(key);
    // A row tied with two deletes (one naming its pubkey, one not): the later position bounds its successor.
    if (seen?.deleteLsn !== undefined && (deleteLsn === undefined || deleteLsn < seen.deleteLsn)) continue;
    ties.set(key, { id: record.id, pubkey: record.pubkey, cosmosTs: Number(record.cosmosTs), cosmosEtag: record.cosmosEtag, deleteLsn });
  }
  return [...ties.values()];
}

/**
 * Applies `deletes` (see the module comment). Retried whole on transient PostgreSQL errors for the client's
 * retry window; throws anything else, keeping nothing.
 */
export async function applyDeletes(
  prisma: PrismaClient,
  deletes: readonly DeleteToApply[],
  options: ApplyDeletesOptions = {},
): Promise<DeleteOutcome> {
  const { entries, ignored } = latestDeletes(deletes);
  if (entries.length === 0) return { deleted: 0, ties: [], reconsider: [], ignored };
  return inRemovalTransaction(
    prisma,
    entries.map((entry) => entry.id),
    async (tx) => {
      await recordTombstones(tx, entries);
      const records = await tx.$queryRawUnsafe<RemovalRecord[]>(removeStatement, ...goneParameters(entries));
      await closeQuarantined(tx, entries, options.closedBy ?? 'sync');
      const removed = records.flatMap((record) => (record.kind === 'deleted' && record.row !== null ? [record.row] : []));
      const reconsider = await competitorsFor(tx, rowsFreedBy(entries, removed));
      await purgeTombstones(tx, options.retentionDays ?? defaultDeleteRetentionDays);
      return { deleted: removed.length, ties: tiesOf(records), reconsider, ignored };
    },
    { maxWait: 30_000, timeout: 120_000 },
  );
}

/**
 * Removes tied rows that Cosmos no longer has (a point read found the document missing), each only if it
 * still holds the very version that tied (same `_ts` and `_etag`), so a version written meanwhile is kept.
 * Returns how many rows went and the competitors now free to take them.
 */
export async function removeUnchanged(
  prisma: PrismaClient,
  rows: readonly TiedRow[],
): Promise<{ deleted: number; reconsider: DocumentRef[] }> {
  if (rows.length === 0) return { deleted: 0, reconsider: [] };
  const parts = documentTypeNames.map((type, index) => {
    const { table, key } = documentTypes[type];
    return `r${index} AS (DELETE FROM "${table}" t USING stale s
      WHERE t."id" = s."id" AND t."pubkey" = s."pubkey" AND t."cosmosTs" = s."ts" AND t."cosmosEtag" IS NOT DISTINCT FROM s."etag"
      RETURNING '${table}:' || t."${key}" AS "row")`;
  });
  const statement = `WITH stale AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
      AS s("id", "pubkey", "ts", "etag")),
    ${parts.join(',\n')}
    ${documentTypeNames.map((_, index) => `SELECT "row" FROM r${index}`).join(' UNION ALL ')}`;
  return inRemovalTransaction(
    prisma,
    rows.map((row) => row.id),
    async (tx) => {
      const removed = await tx.$queryRawUnsafe<Array<{ row: string }>>(
        statement,
        rows.map((row) => row.id),
        rows.map((row) => row.pubkey),
        rows.map((row) => row.cosmosTs),
        rows.map((row) => row.cosmosEtag),
      );
      const reconsider = await competitorsFor(
        tx,
        removed.map((record) => record.row),
      );
      return { deleted: removed.length, reconsider };
    },
  );
}
