import type { Container } from '@azure/cosmos';
import type { AppContext } from '../context/app-context.js';
import type { ResyncEntry } from '../storage-queue/messages.js';
import { applyDocuments } from '../write-path/apply-documents.js';
import { applyDeletes } from './apply-deletes.js';
import type { DeletedDocument } from './change-feed-items.js';

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
    };

/** Point reads in flight at once: enough to hide latency, few enough not to burst the container's RU budget. */
const readConcurrency = 8;

/**
 * Brings the given documents in PostgreSQL up to Cosmos's CURRENT state (the resync queue's work).
 * State-based, so it can run late, twice, or after newer changes without going backwards: each changed
 * document is read again from Cosmos and written through `applyDocuments` (version-guarded); one that is
 * gone is deleted if PostgreSQL holds the version seen then or older; deletes are applied as recorded.
 * Skipped while PostgreSQL is primary, like the sync itself. Throws if Cosmos or PostgreSQL fails, so
 * the queue delivers the message again.
 */
export async function resyncDocuments(services: AppContext, entries: readonly ResyncEntry[]): Promise<ResyncOutcome> {
  if (services.config.usePostgres) return { kind: 'skipped', entries: entries.length };
  const deletes: DeletedDocument[] = [];
  const toRead: Array<{ id: string; pubkey: string; ts: number }> = [];
  for (const entry of entries) {
    if (entry.deleted) deletes.push({ id: entry.id, pubkey: entry.pubkey, ts: entry.ts });
    else if (entry.pubkey !== undefined) toRead.push({ id: entry.id, pubkey: entry.pubkey, ts: entry.ts });
  }

  const current = await readCurrent(services.cosmos, toRead);
  const found = current.flatMap((result) => (result.document ? [result.document] : []));
  const gone = current.flatMap((result) => (result.document ? [] : [result.entry]));
  const applied = await applyDocuments(services.prisma, found, { source: 'sync' });
  const { deleted } = await applyDeletes(services.prisma, [...deletes, ...gone]);
  return {
    kind: 'applied',
    read: found.length,
    written: applied.written,
    unchanged: applied.unchanged + applied.skipped,
    quarantined: applied.quarantined,
    failed: applied.failed,
    deleted,
    gone: gone.length,
  };
}

interface ReadResult {
  entry: { id: string; pubkey: string; ts: number };
  document?: Record<string, unknown>;
}

async function readCurrent(container: Container, entries: ReadonlyArray<ReadResult['entry']>): Promise<ReadResult[]> {
  const results: ReadResult[] = [];
  for (let start = 0; start < entries.length; start += readConcurrency) {
    const slice = entries.slice(start, start + readConcurrency);
    results.push(
      ...(await Promise.all(
        slice.map(async (entry) => {
          // A missing item is a 404 response, not an exception; any other failure throws.
          const { resource } = await container.item(entry.id, entry.pubkey).read<Record<string, unknown>>();
          return { entry, document: resource ?? undefined };
        }),
      )),
    );
  }
  return results;
}
