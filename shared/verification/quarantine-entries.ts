import type { PrismaClient } from '../postgres/prisma-client.js';
import { type QuarantineStatus, readQuarantineEntries, type StoredQuarantineEntry } from '../postgres/quarantine-store.js';
import { isDifference, type Standing, standingOf } from '../quarantine/standing.js';
import { quarantineKey } from '../write-path/quarantine.js';

/** A quarantined source document, as verification reads it: which one, which version, why, and where it stands. */
export interface QuarantineEntry {
  key: string;
  documentId: string | null;
  pubkey: string | null;
  reason: string;
  reasonCode: string;
  /** `open`, or `resolved` (an operator accepted it); closed entries (their documents deleted) are not read. */
  status: Exclude<QuarantineStatus, 'closed'>;
  resolvedBy: string | null;
  resolution: string | null;
  /** The source `_ts` of the version the entry holds. */
  cosmosTs: number;
  standing: Standing;
}

/** The entries that can account for a document Cosmos holds: a closed one's document was deleted. */
const standingStatuses: readonly QuarantineStatus[] = ['open', 'resolved'];

/** Entries read per query. */
const pageSize = 1000;

function toEntry(stored: StoredQuarantineEntry): QuarantineEntry {
  return {
    key: stored.key,
    documentId: stored.documentId,
    pubkey: stored.pubkey,
    reason: stored.reason,
    reasonCode: stored.reasonCode,
    status: stored.status === 'resolved' ? 'resolved' : 'open',
    resolvedBy: stored.resolvedBy,
    resolution: stored.resolution,
    cosmosTs: stored.cosmosTs,
    standing: standingOf(stored),
  };
}

/** One user's open and resolved quarantine entries, by document id. */
export async function quarantineOfUser(prisma: PrismaClient, pubkey: string): Promise<Map<string, QuarantineEntry>> {
  const entries = new Map<string, QuarantineEntry>();
  let after: string | undefined;
  for (;;) {
    const page = await readQuarantineEntries(
      prisma,
      { status: standingStatuses, pubkey },
      { limit: pageSize, ...(after ? { after } : {}) },
    );
    for (const stored of page) if (stored.documentId !== null) entries.set(stored.documentId, toEntry(stored));
    after = page.at(-1)?.key;
    if (page.length < pageSize) return entries;
  }
}

/**
 * The open and resolved quarantine entries of the given source documents, keyed by the write path's own
 * {@link quarantineKey}, so documents without a usable pubkey or id (keyed by a hash) are found too.
 */
export async function quarantineOfDocuments(
  prisma: PrismaClient,
  documents: ReadonlyArray<Record<string, unknown>>,
): Promise<Map<string, QuarantineEntry>> {
  if (documents.length === 0) return new Map();
  const keys = [...new Set(documents.map(quarantineKey))];
  const entries = await readQuarantineEntries(prisma, { status: standingStatuses, keys }, { limit: keys.length });
  return new Map(entries.map((stored) => [stored.key, toEntry(stored)]));
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

/**
 * What verification makes of a document Cosmos holds and PostgreSQL does not serve as it is, given its entry:
 * - `none`: no entry accounts for this version: it is missing in PostgreSQL, or different;
 * - `difference`: an OPEN entry holds it and PostgreSQL serves something else: an older version of it
 *   (`newer-than-row`), or nothing while it waits for a row (`waiting-for-row`; see `quarantine/standing.ts`);
 * - `listed`: an entry holds it and it is not a difference: no table can hold it (`no-table`), PostgreSQL's row
 *   is not older (`not-newer-than-row`), or an operator resolved it (`resolved`, whatever its standing).
 */
export type QuarantineVerdict =
  | { kind: 'none' }
  | { kind: 'difference'; entry: QuarantineEntry; standing: 'newer-than-row' | 'waiting-for-row' }
  | { kind: 'listed'; entry: QuarantineEntry };

export function quarantineVerdict(entry: QuarantineEntry | undefined, document: Record<string, unknown>): QuarantineVerdict {
  if (!explainsVersion(entry, document)) return { kind: 'none' };
  if (entry.status === 'open' && isDifference(entry.standing)) {
    return { kind: 'difference', entry, standing: entry.standing as 'newer-than-row' | 'waiting-for-row' };
  }
  return { kind: 'listed', entry };
}

/** An entry's reason as a report shows it: with the operator's resolution when there is one. */
export function reportedReason(entry: QuarantineEntry): string {
  if (entry.status !== 'resolved') return entry.reason;
  return `${entry.reason}; resolved by ${entry.resolvedBy ?? 'unknown'}: ${entry.resolution ?? ''}`;
}
