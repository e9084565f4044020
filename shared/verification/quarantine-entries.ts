import type { PrismaClient } from '../postgres/prisma-client.js';
import { quarantineKey } from '../write-path/quarantine.js';

/** A quarantined source document, as verification reports it: which one, which version, and why. */
export interface QuarantineEntry {
  documentId: string;
  pubkey: string;
  reason: string;
  /** The source `_ts` of the version the entry holds. */
  cosmosTs: number;
}

const columns = { documentId: true, pubkey: true, reason: true, cosmosTs: true } as const;

/** One user's quarantined documents, by document id. */
export async function quarantineOfUser(prisma: PrismaClient, pubkey: string): Promise<Map<string, QuarantineEntry>> {
  const entries = await prisma.quarantinedDocument.findMany({ where: { pubkey }, select: columns });
  return new Map(entries.flatMap(toEntry).map((entry) => [entry.documentId, entry]));
}

/**
 * The quarantine entries of the given source documents, keyed by the write path's own
 * {@link quarantineKey}, so documents without a usable pubkey or id (keyed by a content hash) are found too.
 */
export async function quarantineOfDocuments(
  prisma: PrismaClient,
  documents: ReadonlyArray<Record<string, unknown>>,
): Promise<Map<string, Pick<QuarantineEntry, 'reason' | 'cosmosTs'>>> {
  if (documents.length === 0) return new Map();
  const entries = await prisma.quarantinedDocument.findMany({
    where: { key: { in: documents.map(quarantineKey) } },
    select: { key: true, reason: true, cosmosTs: true },
  });
  return new Map(entries.map((entry) => [entry.key, { reason: entry.reason, cosmosTs: Number(entry.cosmosTs) }]));
}

/**
 * Whether the entry accounts for this version of the source document. The write path keeps an entry
 * only for the newest version it quarantined and removes it once a version is written, so an entry
 * older than the document is stale: the current version has not been through the write path yet,
 * and a gap in its table is a real one.
 */
export function explainsVersion<E extends Pick<QuarantineEntry, 'cosmosTs'>>(
  entry: E | undefined,
  document: Record<string, unknown>,
): entry is E {
  const version = typeof document._ts === 'number' ? document._ts : 0;
  return entry !== undefined && entry.cosmosTs >= version;
}

function toEntry(row: { documentId: string | null; pubkey: string | null; reason: string; cosmosTs: bigint }): QuarantineEntry[] {
  if (row.documentId === null || row.pubkey === null) return [];
  return [{ documentId: row.documentId, pubkey: row.pubkey, reason: row.reason, cosmosTs: Number(row.cosmosTs) }];
}
