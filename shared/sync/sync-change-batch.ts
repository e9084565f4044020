import type { ChangeFeedMode } from '../config/change-feed-mode.js';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { documentTypeOf } from '../domain/document-types.js';
import { type DocumentsMessage, documentsMessages, type ResyncEntry } from '../storage-queue/messages.js';
import { type ApplyResult, applyDocuments } from '../write-path/apply-documents.js';
import { applyDeletes } from './apply-deletes.js';
import { type ChangeSet, changeSetOf } from './change-feed-items.js';

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

export type SyncOutcome =
  /** PostgreSQL is primary: these changes are the mirror's own writes coming back, and are ignored. */
  | { kind: 'skipped'; items: number }
  | ({ kind: 'applied'; deleted: number; unreadable: number } & Omit<ApplyResult, 'quarantinedKeys' | 'failedKeys' | 'displacedKeys'>)
  /** PostgreSQL refused the batch on the last attempt; the documents are on the resync queue. */
  | { kind: 'deferred'; documents: number; messages: number; reason: string };

/**
 * Applies one change-feed batch to PostgreSQL through the migration's write path (`applyDocuments`,
 * source `sync`): mapping, quarantine and the version guard are the same, so duplicate and out-of-order
 * deliveries end at the newest version. Deletes (all-versions-and-deletes mode) are version-guarded too.
 *
 * If the write fails (PostgreSQL down) the error is thrown while the runtime will retry; on the last
 * attempt each document's id, pubkey, type and `_ts` go on the migration queue as `documents` messages,
 * whose handler re-reads the current state from Cosmos. If even that enqueue fails, the error is thrown.
 */
export async function syncChangeBatch(services: AppContext, items: readonly unknown[], options: SyncBatchOptions): Promise<SyncOutcome> {
  if (services.config.usePostgres) return { kind: 'skipped', items: items.length };
  const changes = changeSetOf(items, options.mode);
  try {
    const applied = await applyDocuments(services.prisma, changes.upserts, { source: 'sync' });
    const { deleted } = await applyDeletes(services.prisma, changes.deletes);
    const { written, unchanged, skipped, quarantined, failed, displaced } = applied;
    return { kind: 'applied', written, unchanged, skipped, quarantined, failed, displaced, deleted, unreadable: changes.unreadable };
  } catch (error) {
    if (options.willRetry) throw error;
    const reason = `sync could not write: ${safeErrorMessage(error, secretsOf(services.config))}`;
    const entries = resyncEntries(changes);
    const messages = documentsMessages(entries, reason);
    await options.enqueue(messages);
    return { kind: 'deferred', documents: entries.length, messages: messages.length, reason };
  }
}

/**
 * What the resync handler needs: for a changed document, enough to read its current state back (id and
 * partition key); for a delete, the delete itself (applying it late is safe, it is version-guarded).
 * A changed document without a string id and pubkey cannot be read back; it could never be mapped
 * either (both are required), so only its quarantine record is missed, and it is left out.
 */
function resyncEntries(changes: ChangeSet): ResyncEntry[] {
  const entries: ResyncEntry[] = [];
  for (const document of changes.upserts) {
    const fields = document as Record<string, unknown> | null;
    if (typeof fields?.id !== 'string' || typeof fields.pubkey !== 'string' || fields.id === '' || fields.pubkey === '') continue;
    entries.push({
      id: fields.id,
      pubkey: fields.pubkey,
      type: documentTypeOf(fields.type) ?? (typeof fields.type === 'string' ? fields.type.slice(0, 100) : undefined),
      ts: typeof fields._ts === 'number' && Number.isInteger(fields._ts) && fields._ts >= 0 ? fields._ts : 0,
    });
  }
  for (const deleted of changes.deletes) entries.push({ id: deleted.id, pubkey: deleted.pubkey, ts: deleted.ts, deleted: true });
  return entries;
}
