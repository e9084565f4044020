import type { PrismaClient } from '../postgres/prisma-client.js';
import { quarantineKey, type ReasonCode } from '../write-path/quarantine.js';

/** A quarantined source document, as verification reports it: which one, which version, and why. */
export interface QuarantineEntry {
  documentId: string;
  pubkey: string;
  reason: string;
  reasonCode: ReasonCode;
  /** The source `_ts` of the version the entry holds. */
  cosmosTs: number;
}

const columns = { documentId: true, pubkey: true, reason: true, reasonCode: true, cosmosTs: true } as const;

const reasonCodes: readonly string[] = ['unmappable', 'refused', 'conflict', 'displaced', 'diverged'] satisfies ReasonCode[];

/** A stored reason code as one of the four; an unknown one (a newer writer's) is treated as a competitor, never as settled. */
function reasonCodeOf(value: string): ReasonCode {
  return reasonCodes.includes(value) ? (value as ReasonCode) : 'conflict';
}

/**
 * Whether the document is in the quarantine because no table can hold it as it is (`unmappable`, `refused`):
 * then the write path has done all it can, and only fixing the document at the source changes that. A
 * competitor (`conflict`, `displaced`) is different: it is a valid document waiting for a row another holds,
 * so while Cosmos still has it, PostgreSQL does not agree with Cosmos.
 */
export function isMappingFailure(entry: Pick<QuarantineEntry, 'reasonCode'>): boolean {
  return entry.reasonCode === 'unmappable' || entry.reasonCode === 'refused';
}

/** One user's quarantined documents, by document id. */
export async function quarantineOfUser(prisma: PrismaClient, pubkey: string): Promise<Map<string, QuarantineEntry>> {
  const entries = await prisma.quarantinedDocument.findMany({ where: { pubkey }, select: columns });
  return new Map(entries.flatMap(toEntry).map((entry) => [entry.documentId, entry]));
}

/**
 * The quarantine entries of the given source documents, keyed by the write path's own
 * {@link quarantineKey}, so documents without a usable pubkey or id (keyed by a hash) are found too.
 */
export async function quarantineOfDocuments(
  prisma: PrismaClient,
  documents: ReadonlyArray<Record<string, unknown>>,
): Promise<Map<string, Pick<QuarantineEntry, 'reason' | 'reasonCode' | 'cosmosTs'>>> {
  if (documents.length === 0) return new Map();
  const entries = await prisma.quarantinedDocument.findMany({
    where: { key: { in: documents.map(quarantineKey) } },
    select: { key: true, reason: true, reasonCode: true, cosmosTs: true },
  });
  return new Map(
    entries.map((entry) => [
      entry.key,
      { reason: entry.reason, reasonCode: reasonCodeOf(entry.reasonCode), cosmosTs: Number(entry.cosmosTs) },
    ]),
  );
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

function toEntry(row: {
  documentId: string | null;
  pubkey: string | null;
  reason: string;
  reasonCode: string;
  cosmosTs: bigint;
}): QuarantineEntry[] {
  if (row.documentId === null || row.pubkey === null) return [];
  return [
    {
      documentId: row.documentId,
      pubkey: row.pubkey,
      reason: row.reason,
      reasonCode: reasonCodeOf(row.reasonCode),
      cosmosTs: Number(row.cosmosTs),
    },
  ];
}
