import type { Container } from '@azure/cosmos';
import type { AppContext } from '../context/app-context.js';
import type { ChangeEntry, PartitionKeyValue, ResyncEntry } from '../storage-queue/messages.js';
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

interface ReadBack {
  id: string;
  partitionKey: PartitionKeyValue;
  ts: number;
}

/**
 * Brings the given documents in PostgreSQL up to Cosmos's CURRENT state (the resync queue's work).
 * State-based, so it can run late, twice, or after newer changes without going backwards: each changed
 * document is read again from Cosmos and written through `applyDocuments` (version-guarded); one that is
 * gone is deleted if PostgreSQL holds the version seen then or older; deletes are applied as recorded; an
 * item that named no document goes to the quarantine whole. Skipped while PostgreSQL is primary, like the
 * sync itself. Throws if Cosmos or PostgreSQL fails, so the queue delivers the message again.
 */
export async function resyncDocuments(ctx: AppContext, entries: readonly ResyncEntry[]): Promise<ResyncOutcome> {
  if (ctx.config.usePostgres) return { kind: 'skipped', entries: entries.length };
  const deletes: DeletedDocument[] = [];
  const toRead: ReadBack[] = [];
  const unreadable: unknown[] = [];
  for (const entry of entries) {
    if ('raw' in entry) unreadable.push(parseRaw(entry.raw));
    else if (entry.deleted) deletes.push({ id: entry.id, pubkey: pubkeyOf(entry), ts: entry.ts, lsn: entry.lsn });
    else toRead.push({ id: entry.id, partitionKey: entry.partitionKey ?? (entry.pubkey as string), ts: entry.ts });
  }

  const current = await readCurrent(ctx.cosmos, toRead);
  const found = current.flatMap((result) => (result.document ? [result.document] : []));
  const gone = current.flatMap(({ entry, document }) =>
    document || typeof entry.partitionKey !== 'string' ? [] : [{ id: entry.id, pubkey: entry.partitionKey, ts: entry.ts }],
  );
  // Items that name no document cannot be mapped: the write path quarantines them, kept whole, with the reason.
  const applied = await applyDocuments(ctx.prisma, [...found, ...unreadable], { source: 'sync' });
  const { deleted } = await applyDeletes(ctx.prisma, [...deletes, ...gone]);
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

async function readCurrent(
  container: Container,
  entries: readonly ReadBack[],
): Promise<Array<{ entry: ReadBack; document?: Record<string, unknown> }>> {
  const results: Array<{ entry: ReadBack; document?: Record<string, unknown> }> = [];
  for (let start = 0; start < entries.length; start += readConcurrency) {
    const slice = entries.slice(start, start + readConcurrency);
    results.push(
      ...(await Promise.all(
        slice.map(async (entry) => {
          // `{}` is the SDK's "none" partition key: an item stored without a value at /pubkey.
          const partitionKey = isNone(entry.partitionKey) ? {} : entry.partitionKey;
          // A missing item is a 404 response, not an exception; any other failure throws.
          const { resource } = await container.item(entry.id, partitionKey).read<Record<string, unknown>>();
          return { entry, document: resource ?? undefined };
        }),
      )),
    );
  }
  return results;
}

function isNone(value: PartitionKeyValue): value is { none: true } {
  return value !== null && typeof value === 'object';
}
