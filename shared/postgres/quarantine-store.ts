import { type DocumentType, documentTypeNames, documentTypes, typeValuesOf } from '../domain/document-types.js';
import type { Prisma } from './generated/prisma/client.js';
import type { PrismaClient } from './prisma-client.js';
import { inRemovalTransaction } from './removal-transaction.js';
import type { SqlClient } from './sql-client.js';
import { compareEntryWithRowSql } from './version-order.js';

/**
 * The quarantine table as the operator's desk reads and settles it: entries selected by status, type, reason
 * code, user and age, a page at a time in key order; each with the row PostgreSQL holds for the same document
 * (in whichever table, matched by its plain `<pubkey>/<id>` key) and how the entry's version compares with that
 * row (`version-order.ts`); resolving (an operator accepts an entry) and closing (its document is gone from
 * Cosmos), each recorded on the entry, which is kept. Every value is a parameter; identifiers come from the
 * type descriptors only.
 */

export const quarantineStatuses = ['open', 'resolved', 'closed'] as const;
export type QuarantineStatus = (typeof quarantineStatuses)[number];

/** `type` of a filter that selects documents whose type is none of the seven (or missing). */
export const otherTypeFilter = 'other';

/** Which entries. Every field narrows the selection; `status` (one, several, or `all`) defaults to `open`. */
export interface QuarantineFilter {
  status?: QuarantineStatus | readonly QuarantineStatus[] | 'all';
  /** A document type (its aliases included), a type value as stored, or {@link otherTypeFilter}. */
  type?: string;
  reasonCode?: string;
  pubkey?: string;
  /** Quarantined (or last quarantined again) before this moment. */
  quarantinedBefore?: Date;
  /** Quarantined (or last quarantined again) after this moment. */
  quarantinedAfter?: Date;
  /** These entries only. */
  keys?: readonly string[];
}

/** The row PostgreSQL holds for an entry's document, and the order of the entry's version against it. */
export interface EntryRow {
  table: string;
  /** -1, 0 or 1: the entry's version is older than, the same as, or newer than the row's. */
  order: number;
}

/** An entry as stored, with its document's row. */
export interface StoredQuarantineEntry {
  key: string;
  documentId: string | null;
  pubkey: string | null;
  type: string | null;
  reason: string;
  reasonCode: string;
  competesFor: string | null;
  source: string;
  cosmosTs: number;
  quarantinedAt: Date;
  status: QuarantineStatus;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  resolution: string | null;
  closedAt: Date | null;
  closedBy: string | null;
  /**
   * The document as kept (a JSONB value; a document PostgreSQL could not hold as JSONB is its JSON text), or only
   * its `id`, `pubkey` and `_lsn` (see {@link EntryPage.include}); absent unless asked for.
   */
  document?: unknown;
  row: EntryRow | null;
}

interface EntryRecord extends Omit<StoredQuarantineEntry, 'cosmosTs' | 'row' | 'status'> {
  cosmosTs: bigint;
  status: string;
  rowTable: string | null;
  rowOrder: number | null;
}

/** One lookup per table of the row holding the entry's very document (same id and pubkey), by the id index. */
const rowLookups = documentTypeNames
  .map((type, index) => {
    const { table } = documentTypes[type];
    return `LEFT JOIN LATERAL (SELECT ${compareEntryWithRowSql(type, 'q', 't')}::int AS "order" FROM "${table}" t
      WHERE t."id" = q."documentId" AND q."key" = t."pubkey" || '/' || t."id" LIMIT 1) r${index} ON true`;
  })
  .join('\n');

const rowColumns = `CASE ${documentTypeNames
  .map((type, index) => `WHEN r${index}."order" IS NOT NULL THEN '${documentTypes[type].table}'`)
  .join(' ')} END AS "rowTable",
  COALESCE(${documentTypeNames.map((_, index) => `r${index}."order"`).join(', ')}) AS "rowOrder"`;

const entryColumns = `q."key", q."documentId", q."pubkey", q."type", q."reason", q."reasonCode", q."competesFor", q."source",
  q."cosmosTs", q."quarantinedAt", q."status", q."resolvedAt", q."resolvedBy", q."resolution", q."closedAt", q."closedBy"`;

const knownTypeValues = documentTypeNames.flatMap((type) => typeValuesOf(type));

/** The WHERE conditions of a filter, numbering its parameters from `$1`; `params` receives their values. */
function conditionsOf(filter: QuarantineFilter, params: unknown[]): string[] {
  const add = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const conditions: string[] = [];
  const status = filter.status ?? 'open';
  if (status !== 'all') conditions.push(`q."status" = ANY(${add(typeof status === 'string' ? [status] : [...status])}::text[])`);
  if (filter.type === otherTypeFilter) {
    conditions.push(`(q."type" IS NULL OR q."type" <> ALL(${add(knownTypeValues)}::text[]))`);
  } else if (filter.type !== undefined) {
    const known = documentTypeNames.find((type) => typeValuesOf(type).includes(filter.type as string));
    conditions.push(`q."type" = ANY(${add(known ? typeValuesOf(known) : [filter.type])}::text[])`);
  }
  if (filter.reasonCode !== undefined) conditions.push(`q."reasonCode" = ${add(filter.reasonCode)}`);
  if (filter.pubkey !== undefined) conditions.push(`q."pubkey" = ${add(filter.pubkey)}`);
  if (filter.quarantinedBefore) conditions.push(`q."quarantinedAt" < ${add(filter.quarantinedBefore.toISOString())}::timestamptz`);
  if (filter.quarantinedAfter) conditions.push(`q."quarantinedAt" > ${add(filter.quarantinedAfter.toISOString())}::timestamptz`);
  if (filter.keys) conditions.push(`q."key" = ANY(${add([...filter.keys])}::text[])`);
  return conditions;
}

function where(conditions: readonly string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

function toEntry(record: EntryRecord): StoredQuarantineEntry {
  const { rowTable, rowOrder, cosmosTs, status, ...rest } = record;
  return {
    ...rest,
    cosmosTs: Number(cosmosTs),
    status: status as QuarantineStatus,
    row: rowTable === null || rowOrder === null ? null : { table: rowTable, order: rowOrder },
  };
}

export interface EntryPage {
  /** At most this many entries. */
  limit: number;
  /** After this key (key order); the first page without. */
  after?: string;
  /**
   * `document`: each entry's document (up to the 2 MB a Cosmos item may hold); `address`: only what a point read
   * of it and its place in the change feed need (`id`, `pubkey`, `_lsn`; a document kept as JSON text whole).
   * Default: neither.
   */
  include?: 'document' | 'address';
}

const includedColumn = {
  document: ', q."document"',
  address: `, CASE WHEN jsonb_typeof(q."document") = 'object'
    THEN (SELECT jsonb_object_agg(e.k, e.v) FROM jsonb_each(q."document") AS e(k, v) WHERE e.k IN ('id', 'pubkey', '_lsn'))
    ELSE q."document" END AS "document"`,
};

/** The entries `filter` selects, a page at a time in key order, each with its document's row. */
export async function readQuarantineEntries(db: SqlClient, filter: QuarantineFilter, page: EntryPage): Promise<StoredQuarantineEntry[]> {
  const params: unknown[] = [];
  const conditions = conditionsOf(filter, params);
  if (page.after !== undefined) {
    params.push(page.after);
    conditions.push(`q."key" > $${params.length}`);
  }
  params.push(page.limit);
  const records = await db.$queryRawUnsafe<EntryRecord[]>(
    `SELECT ${entryColumns}${page.include ? includedColumn[page.include] : ''}, ${rowColumns}
     FROM "quarantine" q
     ${rowLookups}
     ${where(conditions)}
     ORDER BY q."key" LIMIT $${params.length}`,
    ...params,
  );
  return records.map(toEntry);
}

/** How many entries `filter` selects, per reason code. */
export async function countQuarantineByReason(db: SqlClient, filter: QuarantineFilter): Promise<Record<string, number>> {
  const params: unknown[] = [];
  const groups = await db.$queryRawUnsafe<Array<{ reasonCode: string; count: bigint }>>(
    `SELECT q."reasonCode", count(*)::bigint AS "count" FROM "quarantine" q ${where(conditionsOf(filter, params))}
     GROUP BY q."reasonCode" ORDER BY q."reasonCode"`,
    ...params,
  );
  return Object.fromEntries(groups.map((group) => [group.reasonCode, Number(group.count)]));
}

/** Entries per status, type as stored and reason code: what stats break down. */
export async function countQuarantine(
  db: SqlClient,
): Promise<Array<{ status: QuarantineStatus; type: string | null; reasonCode: string; count: number }>> {
  const groups = await db.$queryRawUnsafe<Array<{ status: string; type: string | null; reasonCode: string; count: bigint }>>(
    `SELECT q."status", q."type", q."reasonCode", count(*)::bigint AS "count" FROM "quarantine" q GROUP BY 1, 2, 3`,
  );
  return groups.map((group) => ({ ...group, status: group.status as QuarantineStatus, count: Number(group.count) }));
}

/** The row an entry competes for (`<table>:<key>`, as `competesFor` names it), as stored, with the entry's order against it. */
export interface CompetedRow {
  type: DocumentType;
  row: Record<string, unknown>;
  /** -1, 0 or 1: the entry's version is older than, as old as, or newer than the holder's (by time: two documents). */
  order: number;
}

/** The row named `<table>:<key>` and how the entry `key` compares with it; null when no row holds that key now. */
export async function readCompetedRow(db: SqlClient, entryKey: string, competesFor: string): Promise<CompetedRow | null> {
  const separator = competesFor.indexOf(':');
  const table = competesFor.slice(0, separator);
  const type = documentTypeNames.find((candidate) => documentTypes[candidate].table === table);
  if (separator < 0 || !type) return null;
  const keyColumn = documentTypes[type].key;
  const sameDocument = `(q."key" = t."pubkey" || '/' || t."id")`;
  const [found] = await db.$queryRawUnsafe<Array<{ row: Record<string, unknown>; order: number }>>(
    `SELECT to_jsonb(t) AS "row", ${compareEntryWithRowSql(type, 'q', 't', sameDocument)}::int AS "order"
     FROM "quarantine" q JOIN "${table}" t ON t."${keyColumn}" = $2 WHERE q."key" = $1`,
    entryKey,
    competesFor.slice(separator + 1),
  );
  return found ? { type, row: found.row, order: found.order } : null;
}

/** Marks the open entries among `keys` resolved by `by`, now, with `note`; returns the keys it marked. */
export async function markResolved(db: SqlClient, keys: readonly string[], by: string, note: string): Promise<string[]> {
  if (keys.length === 0) return [];
  const marked = await db.$queryRawUnsafe<Array<{ key: string }>>(
    `UPDATE "quarantine" SET "status" = 'resolved', "resolvedAt" = now(), "resolvedBy" = $2, "resolution" = $3
     WHERE "key" = ANY($1::text[]) AND "status" = 'open' RETURNING "key"`,
    [...keys],
    by,
    note,
  );
  return marked.map((row) => row.key);
}

/** An entry to close, as it was read: it is closed only if it still holds that version (`quarantinedAt` unchanged). */
export interface EntryToClose {
  key: string;
  quarantinedAt: Date;
  /** The document's id: its identity lock is taken, as a delete takes it. */
  documentId: string | null;
}

/**
 * Closes `entries` whose documents are gone from Cosmos (a point read found none), recording `closedBy` and the
 * time, each only if it was not quarantined again since it was read. Entries of a plain `<pubkey>/<id>` key also
 * leave a tombstone at the version they held, as a delete does, so a copy of it read before the delete (a late
 * page) cannot open the entry again. Runs as a removal does (the documents' identities locked); returns the keys
 * it closed.
 */
export async function closeGoneEntries(prisma: PrismaClient, entries: readonly EntryToClose[], closedBy: string): Promise<string[]> {
  if (entries.length === 0) return [];
  const ids = entries.flatMap((entry) => (entry.documentId === null ? [] : [entry.documentId]));
  return inRemovalTransaction(prisma, ids, async (tx: Prisma.TransactionClient) => {
    const closed = await tx.$queryRawUnsafe<Array<{ key: string }>>(
      `WITH closed AS (
         UPDATE "quarantine" q SET "status" = 'closed', "closedAt" = now(), "closedBy" = $3
         FROM unnest($1::text[], $2::timestamptz[]) AS g("key", "at")
         WHERE q."key" = g."key" AND q."quarantinedAt" = g."at" AND q."status" <> 'closed'
         RETURNING q."key", q."documentId", q."pubkey", q."cosmosTs",
           CASE WHEN jsonb_typeof(q."document" -> '_lsn') = 'number' THEN (q."document" ->> '_lsn')::numeric END AS "lsn"),
       buried AS (
         INSERT INTO "tombstones" AS tb ("pubkey", "id", "cosmosTs", "cosmosLsn")
         SELECT c."pubkey", c."documentId", c."cosmosTs", CASE WHEN c."lsn" = trunc(c."lsn") AND c."lsn" BETWEEN 0 AND ${Number.MAX_SAFE_INTEGER} THEN c."lsn"::bigint END
         FROM closed c WHERE c."key" = c."pubkey" || '/' || c."documentId"
           AND octet_length(c."pubkey") + octet_length(c."documentId") <= 2000
         ON CONFLICT ("pubkey", "id") DO UPDATE SET "cosmosTs" = EXCLUDED."cosmosTs", "cosmosLsn" = EXCLUDED."cosmosLsn", "deletedAt" = now()
         WHERE CASE WHEN tb."cosmosLsn" IS NOT NULL AND EXCLUDED."cosmosLsn" IS NOT NULL THEN EXCLUDED."cosmosLsn" > tb."cosmosLsn"
           ELSE EXCLUDED."cosmosTs" > tb."cosmosTs" OR (EXCLUDED."cosmosTs" = tb."cosmosTs" AND EXCLUDED."cosmosLsn" IS NOT NULL) END)
       SELECT "key" FROM closed`,
      entries.map((entry) => entry.key),
      entries.map((entry) => entry.quarantinedAt.toISOString()),
      closedBy,
    );
    return closed.map((row) => row.key);
  });
}
