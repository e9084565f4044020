import { createHash } from 'node:crypto';
import { documentJsonText, findUnstorable, isStorableText } from '../domain/storable-json.js';
import type { SqlClient } from '../postgres/sql-client.js';
import {
  compareCodePoints,
  compareQuarantineSql,
  documentSupersedes,
  quarantineSupersedesSql,
  type VersionedDocument,
} from '../postgres/version-order.js';

/**
 * The quarantine: source documents that are not in their table, each kept whole with the reason, so that
 * nothing is dropped in silence. It must hold ANY document Cosmos can hold, so nothing it indexes or shows is
 * taken from a document unchecked: the key is hashed when the document's identity is long or odd, the
 * descriptive columns are left empty when their value is, and a document PostgreSQL cannot store as JSONB is
 * kept exactly as its JSON text. One entry per source document, keyed by {@link quarantineKey}; an entry only
 * ever moves forward in version (`version-order.ts`), and the successful write of the document removes it (in
 * the same statement as the write: see `upsertRows`).
 */

/** What put a document in the quarantine: a migration run, the sync, verification's repair, or an operator's retry. */
export type QuarantineSource = 'migration' | 'sync' | 'repair' | 'retry';

/**
 * Why a document is here, which decides what verification makes of it and whether it waits for something:
 * - `unmappable`: the document itself cannot be a row (a bad field, an unknown type, text PostgreSQL cannot store);
 * - `refused`: PostgreSQL refused the row (a value too large for an index, a constraint);
 * - `conflict`: another document holds the row it needs (its id under another pubkey, or a newer document of
 *   its pubkey in a one-per-user table);
 * - `displaced`: it held its row until a newer document of the same pubkey took it;
 * - `diverged`: written in Cosmos while PostgreSQL held an unconfirmed write of its own of the document, or had
 *   deleted it (`sync/diverged-changes.ts`): PostgreSQL keeps its version, an operator settles the two.
 * `conflict` and `displaced` wait for the row ({@link QuarantineEntry.competesFor}) to be freed. These are the write
 * path's codes; the table keeps any other code a writer records, and readers take an unknown one as waiting for a
 * row (`shared/quarantine/standing.ts`), never as settled.
 */
export type ReasonCode = 'unmappable' | 'refused' | 'conflict' | 'displaced' | 'diverged';

export interface QuarantineEntry {
  key: string;
  /** The document's `id`, `pubkey` and `type` when each is text PostgreSQL stores exactly, of at most 255 characters. */
  documentId: string | null;
  pubkey: string | null;
  type: string | null;
  /** The document as it was received (system properties included). */
  document: unknown;
  reason: string;
  reasonCode: ReasonCode;
  /** For `conflict` and `displaced`: the row the document needs, as `<table>:<key>` (e.g. `accounts:<pubkey>`). */
  competesFor: string | null;
  /** The source `_ts` of this version (0 when the document has none). */
  cosmosTs: number;
}

type Fields = Record<string, unknown>;

function fieldsOf(document: unknown): Fields | undefined {
  return document !== null && typeof document === 'object' && !Array.isArray(document) ? (document as Fields) : undefined;
}

/** The longest `<pubkey>/<id>` kept as a key as it is, in UTF-8 bytes: well under btree's 2,704-byte index row. */
const maxPlainKeyBytes = 1500;

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/**
 * A document's identity in the quarantine. `<pubkey>/<id>`, the pair Cosmos identifies a document by, when
 * both are text PostgreSQL stores exactly and together short enough for the key's index (Cosmos forbids `/` in
 * ids, so the last `/` separates the two). Otherwise `sha256:` of the identity (`[pubkey, id]` as JSON, whose
 * escapes keep a NUL or a lone surrogate apart from anything else), so versions of one document still share an
 * entry. A document whose partition key is not text is keyed by `sha256:` of that value and its id, and one
 * without a string id (not one Cosmos can hold) by `sha256:` of its content.
 */
export function quarantineKey(document: unknown): string {
  const fields = fieldsOf(document);
  const id = fields?.id;
  const pubkey = fields?.pubkey;
  if (typeof id !== 'string') return sha256(documentJsonText(document));
  // A partition key Cosmos holds as a number, boolean, null or nothing at all: the identity is that value
  // and the id, so every read of the document (query or change feed, system properties or not) finds it.
  if (typeof pubkey !== 'string') return sha256(JSON.stringify({ partitionKey: pubkey ?? null, absent: pubkey === undefined, id }));
  const plain = `${pubkey}/${id}`;
  if (isStorableText(plain) && Buffer.byteLength(plain, 'utf8') <= maxPlainKeyBytes) return plain;
  return sha256(JSON.stringify([pubkey, id]));
}

/** The longest value a descriptive column takes: they are indexed (`type`) or shown in lists. */
const maxDescriptiveLength = 255;

/** A descriptive column: a string that can be stored as it is and is short, or a number or boolean as text. */
function textField(fields: Fields | undefined, name: string): string | null {
  const value = fields?.[name];
  if (typeof value === 'string') return value.length <= maxDescriptiveLength && isStorableText(value) ? value : null;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
}

/** The longest reason stored; reasons name fields and documents, and a longer one says nothing more. */
const maxReasonLength = 1000;

/** A reason as it can be stored: what PostgreSQL text cannot hold escaped, and capped. */
function storableReason(reason: string): string {
  const escaped = reason.replace(
    /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return escaped.length > maxReasonLength ? `${escaped.slice(0, maxReasonLength - 1)}…` : escaped;
}

/** The quarantine entry for a document, why it is not in its table, and (for a competitor) the row it needs. */
export function quarantineEntry(
  document: unknown,
  reason: string,
  reasonCode: ReasonCode = 'unmappable',
  competesFor: string | null = null,
): QuarantineEntry {
  const fields = fieldsOf(document);
  const ts = fields?._ts;
  return {
    key: quarantineKey(document),
    documentId: textField(fields, 'id'),
    pubkey: textField(fields, 'pubkey'),
    type: textField(fields, 'type'),
    document,
    reason: storableReason(reason),
    reasonCode,
    competesFor,
    cosmosTs: typeof ts === 'number' && Number.isSafeInteger(ts) ? ts : 0,
  };
}

/** An entry as it is stored: a document PostgreSQL cannot hold as JSONB is kept as its JSON text (a JSONB string). */
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
    if (!current || documentSupersedes(storedVersion(stored), storedVersion(current))) byKey.set(stored.entry.key, stored);
  }
  // In key order, so concurrent writers lock entries in the same order.
  return [...byKey.values()].sort((a, b) => compareCodePoints(a.entry.key, b.entry.key));
}

const saveStatement = `INSERT INTO "quarantine" AS q
  ("key", "documentId", "pubkey", "type", "document", "reason", "reasonCode", "competesFor", "source", "cosmosTs")
SELECT u."key", u."documentId", u."pubkey", u."type",
  CASE WHEN u."asText" THEN to_jsonb(u."document") ELSE u."document"::jsonb END,
  u."reason", u."reasonCode", u."competesFor", $10, u."cosmosTs"
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::text[], $9::text[], $11::bigint[])
  AS u("key", "documentId", "pubkey", "type", "document", "asText", "reason", "reasonCode", "competesFor", "cosmosTs")
ON CONFLICT ("key") DO UPDATE SET
  "documentId" = EXCLUDED."documentId", "pubkey" = EXCLUDED."pubkey", "type" = EXCLUDED."type",
  "document" = EXCLUDED."document", "reason" = EXCLUDED."reason", "reasonCode" = EXCLUDED."reasonCode",
  "competesFor" = EXCLUDED."competesFor", "source" = EXCLUDED."source", "cosmosTs" = EXCLUDED."cosmosTs", "quarantinedAt" = now(),
  "status" = 'open', "resolvedAt" = NULL, "resolvedBy" = NULL, "resolution" = NULL, "closedAt" = NULL, "closedBy" = NULL
WHERE CASE WHEN q."status" = 'open'
  THEN ${quarantineSupersedesSql('EXCLUDED', 'q')}
    AND ROW(EXCLUDED."document", EXCLUDED."reason", EXCLUDED."reasonCode", EXCLUDED."competesFor")
      IS DISTINCT FROM ROW(q."document", q."reason", q."reasonCode", q."competesFor")
  -- A resolved or closed entry opens again only for a newer version: the version an operator accepted, or one
  -- whose document was deleted, read again (a retry, a late page) leaves it as it is.
  ELSE ${compareQuarantineSql('EXCLUDED', 'q')} > 0 END`;

/**
 * Saves entries, never replacing an entry with an older version of the same document (the document version
 * of `version-order.ts`; equal versions with other content: the later wins, unless only the stored one came
 * with a change-feed position). An entry an operator resolved, or whose document was deleted (closed), is
 * opened again by a newer version only, and then its resolution or closure is cleared: it is a new problem. A document holding anything PostgreSQL cannot store exactly as JSONB (NUL,
 * a lone surrogate, nesting past Cosmos's limit: `findUnstorable`) is kept exactly as its JSON text, whose
 * escapes say the same thing in characters PostgreSQL stores.
 */
export async function saveQuarantine(db: SqlClient, entries: readonly QuarantineEntry[], source: QuarantineSource): Promise<void> {
  if (entries.length === 0) return;
  const unique = newestPerKey(entries.map((entry) => ({ entry, asText: findUnstorable(entry.document) !== undefined })));
  await db.$queryRawUnsafe(
    saveStatement,
    unique.map(({ entry }) => entry.key),
    unique.map(({ entry }) => entry.documentId),
    unique.map(({ entry }) => entry.pubkey),
    unique.map(({ entry }) => entry.type),
    unique.map(({ entry }) => documentJsonText(entry.document)),
    unique.map(({ asText }) => asText),
    unique.map(({ entry }) => entry.reason),
    unique.map(({ entry }) => entry.reasonCode),
    unique.map(({ entry }) => entry.competesFor),
    source,
    unique.map(({ entry }) => entry.cosmosTs),
  );
}
