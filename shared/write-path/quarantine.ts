import { createHash } from 'node:crypto';
import { jsonText } from '../core/json-text.js';
import { findNulCharacter } from '../domain/mapping.js';
import { quarantineVersion, type SqlClient } from '../postgres/bulk-upsert.js';

/**
 * The quarantine: source documents that are not in their table, each kept whole with the reason,
 * so that nothing is dropped in silence. One entry per source document, keyed by {@link quarantineKey};
 * an entry only ever moves forward in version (`_ts`, then `modified`), and the successful write of
 * the document removes it (in the same statement as the write: see `upsertRows`).
 */

export type QuarantineSource = 'migration' | 'sync' | 'repair';

export interface QuarantineEntry {
  key: string;
  documentId: string | null;
  pubkey: string | null;
  type: string | null;
  /** The document as it was received (system properties included). */
  document: unknown;
  reason: string;
  /** The source `_ts` of this version (0 when the document has none). */
  cosmosTs: number;
}

type Fields = Record<string, unknown>;

function fieldsOf(document: unknown): Fields | undefined {
  return document !== null && typeof document === 'object' && !Array.isArray(document) ? (document as Fields) : undefined;
}

/**
 * A document's identity in the quarantine: `<pubkey>/<id>`, the pair Cosmos identifies a document by.
 * Cosmos forbids `/` in ids, so the last `/` always separates the two. (PostgreSQL text cannot hold
 * U+0000, so NUL cannot be the separator.) A document without a string id and pubkey, or with a NUL
 * in either, is keyed by a hash of its content instead: `sha256:<hex>`.
 */
export function quarantineKey(document: unknown): string {
  const fields = fieldsOf(document);
  const id = fields?.id;
  const pubkey = fields?.pubkey;
  if (typeof id === 'string' && typeof pubkey === 'string' && !id.includes('\u0000') && !pubkey.includes('\u0000')) {
    return `${pubkey}/${id}`;
  }
  return `sha256:${createHash('sha256')
    .update(jsonText(document) ?? 'undefined')
    .digest('hex')}`;
}

/** Descriptive columns must be storable: a NUL there is shown as U+FFFD (the document column stays exact). */
function printable(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD');
}

/** A descriptive column: strings as they are, a number or boolean (a partition key can be one) as its text. */
function textField(fields: Fields | undefined, name: string): string | null {
  const value = fields?.[name];
  if (typeof value === 'string') return printable(value);
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
}

/** The quarantine entry for a document and why it is not in its table. */
export function quarantineEntry(document: unknown, reason: string): QuarantineEntry {
  const fields = fieldsOf(document);
  const ts = fields?._ts;
  return {
    key: quarantineKey(document),
    documentId: textField(fields, 'id'),
    pubkey: textField(fields, 'pubkey'),
    type: textField(fields, 'type'),
    document,
    reason: printable(reason),
    cosmosTs: typeof ts === 'number' && Number.isSafeInteger(ts) ? ts : 0,
  };
}

/** `modified` where the document has a numeric one, else -1: the quarantine's tie-breaker within one `_ts`. */
function modifiedOf(entry: QuarantineEntry): number {
  const modified = fieldsOf(entry.document)?.modified;
  return typeof modified === 'number' && Number.isFinite(modified) ? modified : -1;
}

/** The newest entry per key (the later one on equal versions), as one statement cannot touch a row twice. */
function newestPerKey(entries: readonly QuarantineEntry[]): QuarantineEntry[] {
  const byKey = new Map<string, QuarantineEntry>();
  for (const entry of entries) {
    const current = byKey.get(entry.key);
    const newer =
      !current || entry.cosmosTs > current.cosmosTs || (entry.cosmosTs === current.cosmosTs && modifiedOf(entry) >= modifiedOf(current));
    if (newer) byKey.set(entry.key, entry);
  }
  // In key order, so concurrent writers lock entries in the same order.
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const saveStatement = `INSERT INTO "quarantine" AS q ("key", "documentId", "pubkey", "type", "document", "reason", "source", "cosmosTs")
SELECT u."key", u."documentId", u."pubkey", u."type",
  CASE WHEN u."asText" THEN to_jsonb(u."document") ELSE u."document"::jsonb END,
  u."reason", $8, u."cosmosTs"
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $9::bigint[])
  AS u("key", "documentId", "pubkey", "type", "document", "asText", "reason", "cosmosTs")
ON CONFLICT ("key") DO UPDATE SET
  "documentId" = EXCLUDED."documentId", "pubkey" = EXCLUDED."pubkey", "type" = EXCLUDED."type",
  "document" = EXCLUDED."document", "reason" = EXCLUDED."reason", "source" = EXCLUDED."source",
  "cosmosTs" = EXCLUDED."cosmosTs", "quarantinedAt" = now()
WHERE ${quarantineVersion('EXCLUDED')} > ${quarantineVersion('q')}
  OR (${quarantineVersion('EXCLUDED')} = ${quarantineVersion('q')} AND ROW(EXCLUDED."document", EXCLUDED."reason") IS DISTINCT FROM ROW(q."document", q."reason"))`;

/**
 * Saves entries, never replacing an entry with an older version of the same document (`_ts`, then
 * a numeric `modified`; equal versions with other content: the later wins). A document
 * containing U+0000 cannot be JSONB; it is kept exactly as its JSON text (a JSONB string) instead.
 */
export async function saveQuarantine(db: SqlClient, entries: readonly QuarantineEntry[], source: QuarantineSource): Promise<void> {
  if (entries.length === 0) return;
  const unique = newestPerKey(entries);
  const texts = unique.map((entry) => jsonText(entry.document) ?? 'null');
  await db.$queryRawUnsafe(
    saveStatement,
    unique.map((entry) => entry.key),
    unique.map((entry) => entry.documentId),
    unique.map((entry) => entry.pubkey),
    unique.map((entry) => entry.type),
    texts,
    unique.map((entry) => findNulCharacter(entry.document) !== undefined),
    unique.map((entry) => entry.reason),
    source,
    unique.map((entry) => entry.cosmosTs),
  );
}
