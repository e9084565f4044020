import type { AppContext } from '../context/app-context.js';
import { cosmosPointReader, type PointReader, positionedAfter } from '../cosmos/point-reads.js';
import type { PartitionKeyValue } from '../domain/partition-key.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import type { ChangeEntry, ResyncEntry } from '../storage-queue/messages.js';
import { applyDocuments } from '../write-path/apply-documents.js';
import { type ApplyDeletesOptions, applyDeletes, type DeleteToApply } from './apply-deletes.js';
import { keepDivergedChanges } from './diverged-changes.js';
import { confirmEchoes, splitEchoes } from './mirror-echoes.js';
import { settleAfterDeletes } from './settle-after-deletes.js';

/** What a resync did. */
export interface ResyncResult {
  read: number;
  written: number;
  unchanged: number;
  quarantined: number;
  failed: number;
  deleted: number;
  gone: number;
  /** Quarantined competitors of deleted rows read again and applied. */
  reconsidered: number;
  /** Documents read back that were the mirror's own copies (never written), and the rows they confirmed. */
  echoes: number;
  confirmed: number;
  /** Versions PostgreSQL did not take while holding an unconfirmed write of its own: kept (`diverged-changes.ts`). */
  diverged: number;
}

export type ResyncOutcome = { kind: 'applied' } & ResyncResult;

interface ReadBack {
  id: string;
  partitionKey: PartitionKeyValue;
  ts: number;
  lsn?: number;
}

/**
 * Brings the given documents in PostgreSQL up to Cosmos's CURRENT state (the resync queue's work), in every
 * phase, as the sync itself does (see {@link resyncEntries}).
 */
export async function resyncDocuments(ctx: AppContext, entries: readonly ResyncEntry[]): Promise<ResyncOutcome> {
  const result = await resyncEntries(ctx.prisma, cosmosPointReader(ctx.cosmos), entries, {
    retentionDays: ctx.config.deleteRetentionDays,
  });
  return { kind: 'applied', ...result };
}

/**
 * State-based, so it can run late, twice, or after newer changes without going backwards: each changed
 * document is read again (`read`) and written through `applyDocuments` (version-guarded), placed in the change
 * feed's order no earlier than the change the sync saw (`positionedAfter`); one that is gone is deleted if
 * PostgreSQL holds the version seen then or older; deletes are applied as recorded (tombstones, ties and freed
 * rows settled as the sync does: `settleAfterDeletes`); an item that named no document goes to the quarantine
 * whole. Throws if Cosmos or PostgreSQL fails, so the queue delivers the message again.
 */
export async function resyncEntries(
  prisma: PrismaClient,
  read: PointReader,
  entries: readonly ResyncEntry[],
  options: ApplyDeletesOptions = {},
): Promise<ResyncResult> {
  const deletes: DeleteToApply[] = [];
  const toRead: ReadBack[] = [];
  const unreadable: unknown[] = [];
  for (const entry of entries) {
    if ('raw' in entry) unreadable.push(parseRaw(entry.raw));
    else if (entry.deleted) deletes.push({ id: entry.id, pubkey: pubkeyOf(entry), ts: entry.ts, lsn: entry.lsn });
    else toRead.push({ id: entry.id, partitionKey: entry.partitionKey ?? (entry.pubkey as string), ts: entry.ts, lsn: entry.lsn });
  }

  const current = await read(toRead);
  const found = current.flatMap(({ entry, document }) => (document ? [positionedAfter(document, entry.lsn)] : []));
  // The version seen is gone by now: rows holding it (or an older one) go, and it is remembered as deleted.
  const gone = current.flatMap(({ entry, document }) =>
    document || typeof entry.partitionKey !== 'string'
      ? []
      : [{ id: entry.id, pubkey: entry.partitionKey, ts: entry.ts, lsn: entry.lsn, inclusive: true }],
  );
  // The mirror's own copies only confirm the rows awaiting them (`mirror-echoes.ts`); items that name no document
  // cannot be mapped: the write path quarantines them, kept whole, with the reason.
  const { echoes, others } = splitEchoes(found);
  const confirmed = await confirmEchoes(prisma, echoes);
  const applied = await applyDocuments(prisma, [...others, ...unreadable], { source: 'sync' });
  const diverged = applied.unchanged > 0 ? await keepDivergedChanges(prisma, read, others) : 0;
  const removal = await applyDeletes(prisma, [...deletes, ...gone], options);
  const settled = await settleAfterDeletes(prisma, read, removal, 'sync');
  return {
    read: found.length,
    echoes: echoes.length,
    confirmed,
    diverged,
    written: applied.written + settled.written,
    unchanged: applied.unchanged + applied.skipped + settled.unchanged,
    quarantined: applied.quarantined + settled.quarantined,
    failed: applied.failed + settled.failed,
    deleted: removal.deleted + settled.deleted,
    gone: gone.length,
    reconsidered: settled.reconsidered,
  };
}

/** The partition key of an entry as a pubkey, when it is one (older messages said `pubkey`). */
function pubkeyOf(entry: ChangeEntry): string | undefined {
  const value = entry.partitionKey ?? entry.pubkey;
  return typeof value === 'string' ? value : undefined;
}

/** A raw item's JSON text back as the value it was (the sync wrote it with `JSON.stringify`). */
function parseRaw(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
