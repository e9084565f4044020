import type { ChangeFeedMode } from '../config/change-feed-mode.js';

/** A document deleted in Cosmos: `ts` is when (seconds, like `_ts`), so an older row may go and a newer one stays. */
export interface DeletedDocument {
  id: string;
  /** Known when the change says which partition it was in; the delete is then limited to it. */
  pubkey?: string;
  ts: number;
}

/** One trigger batch, sorted into what to write and what to delete. */
export interface ChangeSet {
  /**
   * Documents as Cosmos returned them (system properties included), to go through `applyDocuments`,
   * which also quarantines whatever is not a mappable document.
   */
  upserts: unknown[];
  deletes: DeletedDocument[];
  /** Items that name no document at all (no id anywhere); logged, nothing can be done with them. */
  unreadable: number;
}

/**
 * Sorts a trigger batch. In `LatestVersion` mode every item is a document. In `AllVersionsAndDeletes`
 * mode every item is `{ current, previous?, metadata }` in the order of the changes within a partition,
 * so for each document only its last change counts: a final delete removes the row, and a final create
 * or replace writes that version (earlier versions of it in the batch would be overwritten anyway).
 */
export function changeSetOf(items: readonly unknown[], mode: ChangeFeedMode): ChangeSet {
  if (mode === 'LatestVersion') return { upserts: [...items], deletes: [], unreadable: 0 };
  const last = new Map<string, Change>();
  let unreadable = 0;
  for (const item of items) {
    const change = readChange(item);
    if (!change) {
      unreadable += 1;
      continue;
    }
    // Keyed by id alone, as the tables are (a delete may not say its partition). Re-inserting moves
    // the key to the end, so the map's order stays the order of last changes.
    last.delete(change.id);
    last.set(change.id, change);
  }
  const changeSet: ChangeSet = { upserts: [], deletes: [], unreadable };
  for (const change of last.values()) {
    if (change.kind === 'upsert') changeSet.upserts.push(change.document);
    else changeSet.deletes.push({ id: change.id, pubkey: change.pubkey, ts: change.ts });
  }
  return changeSet;
}

type Change =
  | { kind: 'upsert'; id: string; pubkey?: string; document: Record<string, unknown> }
  | { kind: 'delete'; id: string; pubkey?: string; ts: number };

function readChange(item: unknown): Change | undefined {
  if (!isObject(item)) return undefined;
  const metadata = isObject(item.metadata) ? item.metadata : {};
  const current = isObject(item.current) && Object.keys(item.current).length > 0 ? item.current : undefined;
  const previous = isObject(item.previous) ? item.previous : undefined;
  const operation = typeof metadata.operationType === 'string' ? metadata.operationType.toLowerCase() : undefined;
  const isDelete = operation === 'delete' || (operation === undefined && !current);
  const source = isDelete ? previous : current;
  const id = text(metadata.id) ?? text(source?.id);
  if (!id) return undefined;
  const partitionKey = isObject(metadata.partitionKey) ? metadata.partitionKey : undefined;
  const pubkey = text(source?.pubkey) ?? text(partitionKey?.pubkey);
  if (isDelete) {
    // crts is the delete's commit time in seconds; the feed gives `_ts` of the deleted version at best.
    const ts = wholeNumber(metadata.crts) ?? wholeNumber(previous?._ts);
    return ts === undefined ? undefined : { kind: 'delete', id, pubkey, ts };
  }
  return current ? { kind: 'upsert', id, pubkey, document: current } : undefined;
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
