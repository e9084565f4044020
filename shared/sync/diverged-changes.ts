import type { PointReader } from '../cosmos/point-reads.js';
import { documentHash } from '../domain/document-hash.js';
import { type DocumentType, documentTypeOf, documentTypes } from '../domain/document-types.js';
import { rowToDocument } from '../domain/mapping.js';
import type { SqlClient } from '../postgres/sql-client.js';
import { quarantineEntry, quarantineKey, saveQuarantine } from '../write-path/quarantine.js';

/**
 * Divergence: a version written in Cosmos that PostgreSQL did not take although Cosmos still holds it, while
 * PostgreSQL's row for it is one the service wrote there and Cosmos has not confirmed (rule 7, awaiting Cosmos),
 * or PostgreSQL deleted the document. The two databases then hold different versions written independently
 * (a writer still on Cosmos after the switch, a tool writing to Cosmos directly): neither is dropped. PostgreSQL
 * keeps its row; the Cosmos version is kept whole in the quarantine, reason code `diverged`, and counted and
 * shown by stats, verification and the switch's readiness checks until an operator settles it
 * (`migrate:quarantine`). A version Cosmos no longer holds was overwritten there too: nothing diverges.
 */

interface Candidate {
  type: DocumentType;
  document: Record<string, unknown>;
}

/**
 * Finds, among `documents` just given to the write path, those that diverge (see above) and keeps each in the
 * quarantine. Returns how many. Reads PostgreSQL's rows of the documents, then Cosmos's current state of those
 * whose row is missing or awaiting Cosmos and does not hold them.
 */
export async function keepDivergedChanges(db: SqlClient, read: PointReader, documents: readonly unknown[]): Promise<number> {
  const candidates = await notTaken(db, documents);
  if (candidates.length === 0) return 0;
  const current = await read(
    candidates.map((candidate) => ({ id: candidate.document.id as string, partitionKey: candidate.document.pubkey as string, candidate })),
  );
  const diverged = current.flatMap(({ entry, document }) =>
    document && documentHash(document) === documentHash(entry.candidate.document) ? [entry.candidate] : [],
  );
  await saveQuarantine(
    db,
    diverged.map(({ type, document }) =>
      quarantineEntry(
        document,
        `written in Cosmos DB while PostgreSQL held a ${type} version of its own that Cosmos DB had not confirmed (or had deleted it): ` +
          'both kept, PostgreSQL serves its own; settle with npm run migrate:quarantine',
        'diverged',
        null,
      ),
    ),
    'sync',
  );
  return diverged.length;
}

/** The mappable documents whose row is missing or awaits Cosmos and does not hold them, and that the quarantine does not keep. */
async function notTaken(db: SqlClient, documents: readonly unknown[]): Promise<Candidate[]> {
  const byType = new Map<DocumentType, Record<string, unknown>[]>();
  for (const document of documents) {
    if (document === null || typeof document !== 'object' || Array.isArray(document)) continue;
    const fields = document as Record<string, unknown>;
    const type = documentTypeOf(fields.type);
    if (!type || typeof fields.id !== 'string' || typeof fields.pubkey !== 'string') continue;
    byType.set(type, [...(byType.get(type) ?? []), fields]);
  }
  const candidates: Candidate[] = [];
  for (const [type, ofType] of byType) {
    const rows = await db.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT t.* FROM "${documentTypes[type].table}" t
       JOIN unnest($1::text[], $2::text[]) AS d("id", "pubkey") ON t."id" = d."id" AND t."pubkey" = d."pubkey"`,
      ofType.map((document) => document.id),
      ofType.map((document) => document.pubkey),
    );
    const held = new Map(rows.map((row) => [`${row.pubkey as string}/${row.id as string}`, row]));
    for (const document of ofType) {
      const row = held.get(`${document.pubkey as string}/${document.id as string}`);
      if (row && row.awaitingCosmos === null) continue;
      if (row && documentHash(rowToDocument(type, row)) === documentHash(document)) continue;
      candidates.push({ type, document });
    }
  }
  return withoutQuarantined(db, candidates);
}

/** Drops candidates whose very version the quarantine already keeps (a conflict or displaced entry, say). */
async function withoutQuarantined(db: SqlClient, candidates: readonly Candidate[]): Promise<Candidate[]> {
  if (candidates.length === 0) return [];
  const kept = await db.$queryRawUnsafe<Array<{ key: string; document: unknown }>>(
    `SELECT q."key", q."document" FROM "quarantine" q WHERE q."key" = ANY($1::text[])`,
    candidates.map((candidate) => quarantineKey(candidate.document)),
  );
  const keptHashes = new Set(
    kept.flatMap(({ key, document }) =>
      document !== null && typeof document === 'object' ? [`${key} ${documentHash(document as Record<string, unknown>)}`] : [],
    ),
  );
  return candidates.filter((candidate) => !keptHashes.has(`${quarantineKey(candidate.document)} ${documentHash(candidate.document)}`));
}
