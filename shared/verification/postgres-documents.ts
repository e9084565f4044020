import { type DocumentType, documentTypes } from '../domain/document-types.js';
import { type CosmosDocument, rowToDocument } from '../domain/mapping.js';
import { pooledQueries } from '../postgres/pg-transaction.js';
import { type PrismaClient, poolOf } from '../postgres/prisma-client.js';

/**
 * Reads of the seven data tables for verification, each returning rows mapped back to the Cosmos
 * document shape with `rowToDocument`. Table names come from the descriptors (constants, quoted);
 * every value is a bind parameter.
 */

function tableOf(type: DocumentType): string {
  return `"${documentTypes[type].table}"`;
}

type RawRow = Record<string, unknown>;

/** All of one user's rows of a type. */
export async function readUserRows(prisma: PrismaClient, type: DocumentType, pubkey: string): Promise<CosmosDocument[]> {
  const rows = await prisma.$queryRawUnsafe<RawRow[]>(`SELECT * FROM ${tableOf(type)} WHERE pubkey = $1`, pubkey);
  return rows.map((row) => rowToDocument(type, row));
}

/** A row as a document, with the change-feed position of the version it holds (null when it has none). */
export interface StoredDocument {
  document: CosmosDocument;
  lsn: number | null;
}

/**
 * The rows of a type whose `id` is one of `ids`, by id (every table has a unique index on `id`). On the client's
 * `pg` pool directly: a verification of everything reads every row this way, and Prisma's conversion of each would
 * cost it as much client CPU as the comparison.
 */
export async function readRowsByIds(
  prisma: PrismaClient,
  type: DocumentType,
  ids: readonly string[],
): Promise<Map<string, StoredDocument>> {
  if (ids.length === 0) return new Map();
  const rows = await pooledQueries(poolOf(prisma)).$queryRawUnsafe<RawRow[]>(`SELECT * FROM ${tableOf(type)} WHERE id = ANY($1::text[])`, [
    ...ids,
  ]);
  return new Map(
    rows.map((row) => [
      String(row.id),
      { document: rowToDocument(type, row), lsn: row.cosmosLsn === null || row.cosmosLsn === undefined ? null : Number(row.cosmosLsn) },
    ]),
  );
}
