import type { ChangeFeedMode } from '../config/change-feed-mode.js';
import type { PartitionKeyValue } from '../domain/partition-key.js';

/** A document deleted in Cosmos: `ts` is when (seconds, like `_ts`), `lsn` where in the change feed, when known. */
export interface DeletedDocument {
  id: string;
  /** Known when the change says which partition it was in; the delete is then limited to it. */
  pubkey?: string;
  /**
   * The partition key as the change gives it, whatever its kind (a number, null, none): what names a
   * quarantined document whose partition key is not text. Absent when the change does not say.
   */
  partitionKey?: PartitionKeyValue;
  ts: number;
  lsn?: number;
}

/** One change-feed item as the sync reads it, whatever the mode it was delivered in. */
export type ChangeItem =
  /** A plain document: what LatestVersion mode delivers (its latest version). */
  | { kind: 'document'; id: string; partitionKey: PartitionKeyValue; document: Record<string, unknown> }
  /** An all-versions change record (`{ current, previous?, metadata }`) that writes a version. */
  | { kind: 'upsert'; id: string; partitionKey: PartitionKeyValue; document: Record<string, unknown> }
  /** An all-versions change record of a delete. */
  | { kind: 'delete'; id: string; partitionKey: PartitionKeyValue | undefined; ts: number; lsn?: number }
  /** Neither: an item that names no document. Kept whole, never dropped. */
  | { kind: 'unreadable'; item: unknown };

/** One trigger batch, sorted into what to write and what to delete, and what does not fit the mode. */
export interface ChangeSet {
  /**
   * Documents as Cosmos returned them (system properties included), to go through `applyDocuments`,
   * which also quarantines whatever is not a mappable document.
   */
  upserts: Record<string, unknown>[];
  deletes: DeletedDocument[];
  /** Items shaped for the other mode: the loaded extension does not do what COSMOSDB_CHANGE_FEED_MODE says. */
  mismatched: number;
  /** Items that name no document. */
  unreadable: number;
  /** Every item, read: what a deferral hands to the queue. */
  items: ChangeItem[];
}

/**
 * Reads a trigger batch. In `LatestVersion` mode every item must be a document. In `AllVersionsAndDeletes`
 * mode every item must be `{ current, previous?, metadata }` in the order of the changes within a partition, so
 * for each document only its last change counts: a final delete removes the row, and a final create or replace
 * writes that version (earlier versions of it in the batch would be overwritten anyway). Items of the other
 * mode's shape and items that name no document are counted, not dropped: the caller refuses such a batch.
 */
export function changeSetOf(items: readonly unknown[], mode: ChangeFeedMode): ChangeSet {
  const read = items.map(readItem);
  const expected = mode === 'LatestVersion' ? ['document'] : ['upsert', 'delete'];
  const changeSet: ChangeSet = { upserts: [], deletes: [], mismatched: 0, unreadable: 0, items: read };
  // Keyed by document: partition key and id (one id may name documents in two partitions, and both count).
  // A delete that does not say its partition stays apart, and is applied after the writes, version-guarded.
  // Re-inserting moves the key to the end, so the map's order stays the order of last changes.
  const last = new Map<string, Exclude<ChangeItem, { kind: 'unreadable' }>>();
  for (const item of read) {
    if (item.kind === 'unreadable') changeSet.unreadable += 1;
    else if (!expected.includes(item.kind)) changeSet.mismatched += 1;
    // Latest versions are all handed on: a redelivered or out-of-order batch may hold several of one document,
    // and the write path keeps the newest by version, whatever their order here.
    else if (item.kind === 'document') changeSet.upserts.push(item.document);
    else {
      const document = JSON.stringify([item.partitionKey ?? null, item.id]);
      last.delete(document);
      last.set(document, item);
    }
  }
  for (const change of last.values()) {
    if (change.kind === 'delete') {
      const pubkey = typeof change.partitionKey === 'string' ? change.partitionKey : undefined;
      changeSet.deletes.push({
        id: change.id,
        pubkey,
        ...(change.partitionKey !== undefined ? { partitionKey: change.partitionKey } : {}),
        ts: change.ts,
        lsn: change.lsn,
      });
    } else {
      changeSet.upserts.push(change.document);
    }
  }
  return changeSet;
}

/**
 * A change-feed item for what it is. A plain document has a string `id` at the top (a change record never
 * does: its document is under `current` or `previous`); a change record has `metadata.operationType`.
 */
export function readItem(item: unknown): ChangeItem {
  if (!isObject(item)) return { kind: 'unreadable', item };
  if (typeof item.id === 'string' && item.id.length > 0) {
    return { kind: 'document', id: item.id, partitionKey: partitionKeyOf(item), document: item };
  }
  const metadata = isObject(item.metadata) ? item.metadata : undefined;
  const operation = typeof metadata?.operationType === 'string' ? metadata.operationType.toLowerCase() : undefined;
  if (!metadata || !operation) return { kind: 'unreadable', item };
  const current = isObject(item.current) && Object.keys(item.current).length > 0 ? item.current : undefined;
  const previous = isObject(item.previous) ? item.previous : undefined;
  const source = operation === 'delete' ? previous : current;
  const id = text(metadata.id) ?? text(source?.id);
  if (!id) return { kind: 'unreadable', item };
  if (operation === 'delete') {
    // crts is the delete's commit time in seconds; the feed gives `_ts` of the deleted version at best.
    const ts = wholeNumber(metadata.crts) ?? wholeNumber(previous?._ts);
    if (ts === undefined) return { kind: 'unreadable', item };
    const fromMetadata = isObject(metadata.partitionKey) ? metadata.partitionKey.pubkey : undefined;
    const partitionKey = source ? partitionKeyOf(source) : isScalar(fromMetadata) ? fromMetadata : undefined;
    return { kind: 'delete', id, partitionKey, ts, lsn: wholeNumber(metadata.lsn) };
  }
  if (!current) return { kind: 'unreadable', item };
  // The version's position in the feed travels with the document, as LatestVersion items carry `_lsn`.
  const lsn = wholeNumber(metadata.lsn);
  const document = lsn === undefined || current._lsn !== undefined ? current : { ...current, _lsn: lsn };
  return { kind: 'upsert', id, partitionKey: partitionKeyOf(current), document };
}

/** The document's value at the partition key path `/pubkey`, or `none` when it has no scalar there. */
function partitionKeyOf(document: Record<string, unknown>): PartitionKeyValue {
  return isScalar(document.pubkey) ? document.pubkey : { none: true };
}

function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function wholeNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}
