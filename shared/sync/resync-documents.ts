import type { AppContext } from '../context/app-context.js';
import type { ChangeEntry, PartitionKeyValue, ResyncEntry } from '../storage-queue/messages.js';
import { applyDocuments } from '../write-path/apply-documents.js';
import { applyDeletes, type DeleteToApply } from './apply-deletes.js';
import { readCurrent } from './read-current.js';
import { settleAfterDeletes } from './settle-after-deletes.js';

export type ResyncOutcome =
  | { kind: 'skipped'; entries: number }
  | {
      kind: 'applied';
      read: number;
      written: number;
      unchanged: number;
      quarantined: number;
      failed: number;
      deleted: number;
      gone: number;
      /** Quarantined competitors of deleted rows read again and applied. */
      reconsidered: number;
    };

interface ReadBack {
  id: string;
  partitionKey: PartitionKeyValue;
  ts: number;
  lsn?: number;
}

/**
 * Brings the given documents in PostgreSQL up to Cosmos's CURRENT state (the resync queue's work).
 * State-based, so it can run late, twice, or after newer changes without going backwards: each changed
 * document is read again from Cosmos and written through `applyDocuments` (version-guarded); one that is
 * gone is deleted if PostgreSQL holds the version seen then or older; deletes are applied as recorded
 * (tombstones, ties and freed rows settled as the sync does: `settleAfterDeletes`); an item that named no
 * document goes to the quarantine whole. Skipped while PostgreSQL is primary, like the
 * sync itself. Throws if Cosmos or PostgreSQL fails, so the queue delivers the message again.
 */
export async function resyncDocuments(ctx: AppContext, entries: readonly ResyncEntry[]): Promise<ResyncOutcome> {
  if (ctx.config.usePostgres) return { kind: 'skipped', entries: entries.length };
  const deletes: DeleteToApply[] = [];
  const toRead: ReadBack[] = [];
  const unreadable: unknown[] = [];
  for (const entry of entries) {
    if ('raw' in entry) unreadable.push(parseRaw(entry.raw));
    else if (entry.deleted) deletes.push({ id: entry.id, pubkey: pubkeyOf(entry), ts: entry.ts, lsn: entry.lsn });
    else toRead.push({ id: entry.id, partitionKey: entry.partitionKey ?? (entry.pubkey as string), ts: entry.ts, lsn: entry.lsn });
  }

  const current = await readCurrent(ctx.cosmos, toRead);
  const found = current.flatMap((result) => (result.document ? [result.document] : []));
  // The version seen is gone by now: rows holding it (or an older one) go, and it is remembered as deleted.
  const gone = current.flatMap(({ entry, document }) =>
    document || typeof entry.partitionKey !== 'string'
      ? []
      : [{ id: entry.id, pubkey: entry.partitionKey, ts: entry.ts, lsn: entry.lsn, inclusive: true }],
  );
  // Items that name no document cannot be mapped: the write path quarantines them, kept whole, with the reason.
  const applied = await applyDocuments(ctx.prisma, [...found, ...unreadable], { source: 'sync' });
  const removal = await applyDeletes(ctx.prisma, [...deletes, ...gone], { retentionDays: ctx.config.deleteRetentionDays });
  const settled = await settleAfterDeletes(ctx, removal, 'sync');
  return {
    kind: 'applied',
    read: found.length,
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
