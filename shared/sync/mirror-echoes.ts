import { type DocumentType, documentTypeOf, documentTypes } from '../domain/document-types.js';
import { isSystemProperty } from '../domain/mapping.js';
import { mirrorCopyHash } from '../domain/mirror-copy.js';
import type { SqlClient } from '../postgres/sql-client.js';

/**
 * Echoes: documents the change feed (or a read back from Cosmos) brings that are the mirror's own copies of
 * PostgreSQL's writes, proven by their mark (`mirrorCopyHash`: the mark equals the hash of what they hold). An
 * echo is never written to PostgreSQL: its content is a version PostgreSQL itself wrote, so PostgreSQL holds it
 * or something newer, or deleted it since; writing it could only undo that. What an echo does is end the wait of
 * the row that awaits exactly that version (rule 7 of `postgres/version-order.ts`): the row then carries
 * Cosmos's version (`_ts`, `_etag`, `_lsn`), so later changes from Cosmos are ordered against it as usual.
 */

export interface EchoSplit {
  /** Documents that are not echoes: they go through the write path. */
  others: unknown[];
  /** Echoes, by their type (an echo is always a valid document: the mirror only copies rows). */
  echoes: Echo[];
}

interface Echo {
  type: DocumentType;
  id: string;
  pubkey: string;
  hash: string;
  ts: number | null;
  etag: string | null;
  lsn: number | null;
}

/** Sorts `documents` into echoes and the rest, keeping the rest in their order. */
export function splitEchoes(documents: readonly unknown[]): EchoSplit {
  const split: EchoSplit = { others: [], echoes: [] };
  for (const document of documents) {
    const echo = echoOf(document);
    if (echo) split.echoes.push(echo);
    else split.others.push(document);
  }
  return split;
}

function echoOf(document: unknown): Echo | undefined {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return undefined;
  const fields = document as Record<string, unknown>;
  const type = documentTypeOf(fields.type);
  if (!type || typeof fields.id !== 'string' || typeof fields.pubkey !== 'string') return undefined;
  const hash = mirrorCopyHash(fields);
  if (!hash) return undefined;
  const system = (key: string) => (isSystemProperty(key, fields[key]) ? fields[key] : null);
  return {
    type,
    id: fields.id,
    pubkey: fields.pubkey,
    hash,
    ts: system('_ts') as number | null,
    etag: system('_etag') as string | null,
    lsn: system('_lsn') as number | null,
  };
}

/**
 * Ends the wait of every row that awaits one of `echoes` (the same document, awaiting the same hash), giving it
 * the echo's Cosmos version. A row that meanwhile holds a newer write of its own keeps waiting for that one's
 * echo. Returns how many rows it confirmed.
 */
export async function confirmEchoes(db: SqlClient, echoes: readonly Echo[]): Promise<number> {
  const byType = new Map<DocumentType, Echo[]>();
  for (const echo of echoes) byType.set(echo.type, [...(byType.get(echo.type) ?? []), echo]);
  let confirmed = 0;
  for (const [type, ofType] of byType) {
    // Table names come from the descriptors; every value is a parameter.
    confirmed += await db.$executeRawUnsafe(
      `UPDATE "${documentTypes[type].table}" t
       SET "awaitingCosmos" = NULL, "cosmosTs" = COALESCE(e."ts", t."cosmosTs"), "cosmosEtag" = e."etag", "cosmosLsn" = e."lsn"
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[]) AS e("id", "pubkey", "hash", "ts", "etag", "lsn")
       WHERE t."id" = e."id" AND t."pubkey" = e."pubkey" AND t."awaitingCosmos" = e."hash"`,
      ofType.map((echo) => echo.id),
      ofType.map((echo) => echo.pubkey),
      ofType.map((echo) => echo.hash),
      ofType.map((echo) => echo.ts),
      ofType.map((echo) => echo.etag),
      ofType.map((echo) => echo.lsn),
    );
  }
  return confirmed;
}
