import type { ChangeFeedMode } from '../config/change-feed-mode.js';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { ChangeFeedUnreadableError } from '../core/errors.js';
import { jsonText } from '../core/json-text.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { cosmosPointReader, type PointReader } from '../cosmos/point-reads.js';
import { documentTypeOf } from '../domain/document-types.js';
import { isStorableText } from '../domain/storable-json.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { type DocumentsMessage, documentsMessages, type ResyncEntry } from '../storage-queue/messages.js';
import { type ApplyResult, applyDocuments } from '../write-path/apply-documents.js';
import { type ApplyDeletesOptions, applyDeletes } from './apply-deletes.js';
import { type ChangeItem, type ChangeSet, changeSetOf } from './change-feed-items.js';
import { keepDivergedChanges } from './diverged-changes.js';
import { confirmEchoes, splitEchoes } from './mirror-echoes.js';
import { settleAfterDeletes } from './settle-after-deletes.js';

export interface SyncBatchOptions {
  mode: ChangeFeedMode;
  /**
   * Whether the runtime will call again with this batch if this call throws. On the last attempt a
   * batch that cannot be written is put on the resync queue instead: the trigger moves its checkpoint
   * on even when the handler throws, so throwing then would lose the batch.
   */
  willRetry: boolean;
  /** Puts resync messages on the migration queue. */
  enqueue: (messages: DocumentsMessage[]) => Promise<unknown>;
}

/** What applying a batch did. */
export type ChangeSetResult = {
  deleted: number;
  /** Quarantined competitors of deleted rows read again from Cosmos and applied (see `settleAfterDeletes`). */
  reconsidered: number;
  /** The mirror's own copies of PostgreSQL's writes coming back (`mirror-echoes.ts`): never written. */
  echoes: number;
  /** Rows awaiting Cosmos that an echo confirmed. */
  confirmed: number;
  /** Versions written in Cosmos that PostgreSQL did not take while holding an unconfirmed write of its own: kept (`diverged-changes.ts`). */
  diverged: number;
} & Omit<ApplyResult, 'quarantinedKeys' | 'failedKeys' | 'displacedKeys'>;

export type SyncOutcome =
  | ({
      kind: 'applied';
      /** The Cosmos time (`_ts`, seconds) of the batch's oldest change, for the sync lag; absent for an empty batch. */
      oldestChange?: number;
    } & ChangeSetResult)
  /**
   * The batch could not be applied on the runtime's last attempt; every change in it is on the resync queue.
   * `refused` when the batch itself is wrong for this sync (items of the other change-feed mode, items that
   * name no document), which an operator must look at; otherwise PostgreSQL could not be written.
   */
  | { kind: 'deferred'; documents: number; messages: number; reason: string; refused: boolean };

/**
 * Applies one change-feed batch to PostgreSQL through the migration's write path (`applyDocuments`,
 * source `sync`): mapping, quarantine and the version guard are the same, so duplicate and out-of-order
 * deliveries end at the newest version. Deletes (all-versions-and-deletes mode) are version-guarded and
 * remembered (tombstones); what a delete cannot settle alone (a row of the same second, a competitor waiting
 * for the removed row) is read again from Cosmos and applied (`settleAfterDeletes`). The same in every phase:
 * the mirror's own copies (echoes) are told apart by their mark and only confirm the rows awaiting them, and a
 * row PostgreSQL wrote as primary is never replaced by a Cosmos version it has not seen confirmed (see
 * `applyChangeSet`).
 *
 * Nothing is ever ignored: a batch holding items of the other change-feed mode or items that name no document
 * is refused whole (`ChangeFeedUnreadableError`, naming the likely cause), and a write that fails throws, while
 * the runtime will call again with the batch. On its last attempt (the trigger moves its checkpoint on even
 * when the handler throws) EVERY change of the batch goes on the migration queue: the `documents` handler
 * re-reads each changed document's current state from Cosmos, applies each delete, and quarantines each item
 * that names no document, kept whole. The messages are all built before the first is sent, so either every
 * change is handed over or the invocation fails.
 */
export async function syncChangeBatch(ctx: AppContext, items: readonly unknown[], options: SyncBatchOptions): Promise<SyncOutcome> {
  const changes = changeSetOf(items, options.mode);
  try {
    if (changes.mismatched > 0 || changes.unreadable > 0) {
      throw new ChangeFeedUnreadableError(options.mode, changes.mismatched, changes.unreadable);
    }
    const result = await applyChangeSet(ctx.prisma, cosmosPointReader(ctx.cosmos), changes, {
      retentionDays: ctx.config.deleteRetentionDays,
    });
    return { kind: 'applied', oldestChange: oldestChangeOf(changes.items), ...result };
  } catch (error) {
    if (options.willRetry) throw error;
    const refused = error instanceof ChangeFeedUnreadableError;
    const reason = refused ? error.message : `sync could not write: ${safeErrorMessage(error, secretsOf(ctx.config))}`;
    const entries = changes.items.map(resyncEntryOf);
    const messages = documentsMessages(entries, reason);
    await options.enqueue(messages);
    return { kind: 'deferred', documents: entries.length, messages: messages.length, reason, refused };
  }
}

/**
 * Applies a read batch: the mirror's echoes confirm the rows awaiting them (`mirror-echoes.ts`); the other
 * documents go through `applyDocuments`, its deletes through `applyDeletes`, then what a delete leaves to settle
 * from Cosmos's current state (`read`; see `settleAfterDeletes`). Documents the write path did not take are
 * checked for divergence (`diverged-changes.ts`) when any was left unchanged.
 */
export async function applyChangeSet(
  prisma: PrismaClient,
  read: PointReader,
  changes: Pick<ChangeSet, 'upserts' | 'deletes'>,
  options: ApplyDeletesOptions = {},
): Promise<ChangeSetResult> {
  const { echoes, others } = splitEchoes(changes.upserts);
  const confirmed = await confirmEchoes(prisma, echoes);
  const applied = await applyDocuments(prisma, others, { source: 'sync' });
  const diverged = applied.unchanged > 0 ? await keepDivergedChanges(prisma, read, others) : 0;
  const removal = await applyDeletes(prisma, changes.deletes, options);
  const settled = await settleAfterDeletes(prisma, read, removal, 'sync');
  return {
    echoes: echoes.length,
    confirmed,
    diverged,
    written: applied.written + settled.written,
    unchanged: applied.unchanged + settled.unchanged,
    skipped: applied.skipped,
    quarantined: applied.quarantined + settled.quarantined,
    failed: applied.failed + settled.failed,
    displaced: applied.displaced,
    deleted: removal.deleted + settled.deleted,
    reconsidered: settled.reconsidered,
  };
}

/** The smallest change time (`_ts` of a document, the time of a delete) among `items`, if any has one. */
function oldestChangeOf(items: readonly ChangeItem[]): number | undefined {
  let oldest: number | undefined;
  for (const item of items) {
    const ts = item.kind === 'delete' ? item.ts : item.kind === 'unreadable' ? undefined : wholeNumber(item.document._ts);
    if (ts !== undefined && (oldest === undefined || ts < oldest)) oldest = ts;
  }
  return oldest;
}

/**
 * What the resync handler needs for one item, built so it cannot fail: for a changed document, enough to read
 * its current state back (id and partition key, whatever their shape); for a delete, the delete itself
 * (applying it late is safe, it is version-guarded); for an item naming no document, the item itself. A
 * document whose id cannot be addressed in a point read (a character the REST path cannot carry) travels whole
 * too: it can never be mapped (the mapping refuses such ids), so the handler only needs it for the quarantine.
 */
export function resyncEntryOf(item: ChangeItem): ResyncEntry {
  switch (item.kind) {
    case 'document':
    case 'upsert': {
      if (!isAddressableId(item.id)) return { raw: jsonText(item.document) ?? 'null' };
      const { _ts: ts, _lsn: lsn, type } = item.document;
      return {
        id: item.id,
        partitionKey: item.partitionKey,
        type: documentTypeOf(type) ?? (typeof type === 'string' ? type.slice(0, 100) : undefined),
        ts: wholeNumber(ts) ?? 0,
        lsn: wholeNumber(lsn),
      };
    }
    case 'delete':
      return { id: item.id, partitionKey: item.partitionKey, ts: item.ts, lsn: item.lsn, deleted: true };
    case 'unreadable':
      return { raw: jsonText(item.item) ?? 'null' };
  }
}

/**
 * Whether a point read can name this id: the SDK puts it in the request path, which cannot carry a lone
 * surrogate (`encodeURIComponent` throws) or U+0000, and Cosmos forbids `/`, `\`, `?` and `#` in ids.
 */
function isAddressableId(id: string): boolean {
  return isStorableText(id) && !/[/\\?#]/.test(id);
}

function wholeNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
