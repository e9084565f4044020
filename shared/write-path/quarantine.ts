import { createHash } from 'node:crypto';
import { jsonText } from '../core/json-text.js';
import { findNulCharacter } from '../domain/mapping.js';
import type { SqlClient } from '../postgres/bulk-upsert.js';
import { compareCodePoints, compareDocumentVersions, quarantineVersionSql, type VersionedDocument } from '../postgres/version-order.js';

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

/** An entry as it is stored: a document containing U+0000 cannot be JSONB and is kept as its JSON text. */
interface StoredEntry {
  entry: QuarantineEntry;
  asText: boolean;
}

/**
 * The version PostgreSQL reads from a stored entry: a document kept as JSON text has no fields it can
 * read, so its version is its `_ts` alone, there and therefore here too.
 */
function storedVersion({ entry, asText }: StoredEntry): VersionedDocument {
  return { cosmosTs: entry.cosmosTs, document: asText ? null : entry.document };
}

/** The newest entry per key (the later one on equal versions), as one statement cannot touch a row twice. */
function newestPerKey(entries: readonly StoredEntry[]): StoredEntry[] {
  const byKey = new Map<string, StoredEntry>();
  for (const stored of entries) {
    const current = byKey.get(stored.entry.key);
    if (!current || compareDocumentVersions(storedVersion(stored), storedVersion(current)) >= 0) byKey.set(stored.entry.key, stored);
  }
  // In key order, so concurrent writers lock entries in the same order.
  return [...byKey.values()].sort((a, b) => compareCodePoints(a.entry.key, b.entry.key));
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
WHERE ${quarantineVersionSql('EXCLUDED')} > ${quarantineVersionSql('q')}
  OR (${quarantineVersionSql('EXCLUDED')} = ${quarantineVersionSql('q')} AND ROW(EXCLUDED."document", EXCLUDED."reason") IS DISTINCT FROM ROW(q."document", q."reason"))`;

/**
 * Saves entries, never replacing an entry with an older version of the same document (the document
 * version of `version-order.ts`: `_ts`, then a numeric `modified`; equal versions with other content:
 * the later wins). A document containing U+0000 cannot be JSONB; it is kept exactly as its JSON text
 * (a JSONB string) instead.
 */
export async function saveQuarantine(db: SqlClient, entries: readonly QuarantineEntry[], source: QuarantineSource): Promise<void> {
  if (entries.length === 0) return;
  const unique = newestPerKey(entries.map((entry) => ({ entry, asText: findNulCharacter(entry.document) !== undefined })));
  await db.$queryRawUnsafe(
    saveStatement,
    unique.map(({ entry }) => entry.key),
    unique.map(({ entry }) => entry.documentId),
    unique.map(({ entry }) => entry.pubkey),
    unique.map(({ entry }) => entry.type),
    unique.map(({ entry }) => jsonText(entry.document) ?? 'null'),
    unique.map(({ asText }) => asText),
    unique.map(({ entry }) => entry.reason),
    source,
    unique.map(({ entry }) => entry.cosmosTs),
  );
}
