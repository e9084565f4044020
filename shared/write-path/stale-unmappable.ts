import type { DocumentType } from '../domain/document-types.js';
import { isSystemProperty, type Row } from '../domain/mapping.js';
import { isStorableText } from '../domain/storable-json.js';
import { findNewerRows, type VersionRef } from '../postgres/bulk-upsert.js';
import type { SqlClient } from '../postgres/sql-client.js';
import { findBuried } from '../postgres/tombstones.js';
import type { Unmappable } from './plan-documents.js';

/** The identity, `_ts` and position of an unmappable document, when it has them and they can be SQL parameters exactly. */
function versionRefOf(item: Unmappable): (VersionRef & { lsn: number | null }) | undefined {
  const fields = item.document as Record<string, unknown>;
  const { id, pubkey, _ts: ts, _lsn: lsn } = fields;
  if (typeof id !== 'string' || typeof pubkey !== 'string' || typeof ts !== 'number') return undefined;
  // A NUL or a lone surrogate cannot travel as a text parameter (22021, or silently U+FFFD); no row or
  // tombstone can carry one either, so such a document is never stale, only unmappable.
  if (!isStorableText(id) || !isStorableText(pubkey)) return undefined;
  return { id, pubkey, cosmosTs: ts, lsn: isSystemProperty('_lsn', lsn) ? (lsn as number) : null };
}

/**
 * Which unmappable documents (by `index`) are stale rather than broken: an older version of a document
 * whose newer version is already in its table (looked up when the unmappable version names its type), or
 * was written by this same call (`written`, whatever type the unmappable version names), or a version a
 * recorded delete of the document buries. Such a late, out-of-order copy is counted
 * `unchanged`, not quarantined. Call it after the writes, in the same transaction, so that the rows this
 * call wrote are seen.
 */
export async function findStaleUnmappable(
  db: SqlClient,
  unmappable: readonly Unmappable[],
  written: ReadonlyArray<Pick<Row, 'id' | 'pubkey' | 'cosmosTs'>>,
): Promise<Set<number>> {
  const stale = new Set<number>();
  // Almost every call has no unmappable document: the written rows are indexed only when one needs them.
  if (unmappable.length === 0) return stale;
  const writtenTs = new Map(written.map((row) => [`${row.pubkey}/${row.id}`, row.cosmosTs]));
  const byType = new Map<DocumentType, Array<{ item: Unmappable; ref: VersionRef }>>();
  const refs: Array<{ item: Unmappable; ref: VersionRef & { lsn: number | null } }> = [];
  for (const item of unmappable) {
    const ref = versionRefOf(item);
    if (!ref) continue;
    refs.push({ item, ref });
    const writtenHere = writtenTs.get(`${ref.pubkey}/${ref.id}`);
    if (writtenHere !== undefined && writtenHere > ref.cosmosTs) stale.add(item.index);
    else if (item.type) byType.set(item.type, [...(byType.get(item.type) ?? []), { item, ref }]);
  }
  for (const [type, items] of byType) {
    const newer = await findNewerRows(
      db,
      type,
      items.map(({ ref }) => ref),
    );
    for (const position of newer) stale.add((items[position] as { item: Unmappable }).item.index);
  }
  const buried = await findBuried(
    db,
    refs.map(({ ref }) => ref),
  );
  for (const position of buried) stale.add((refs[position] as { item: Unmappable }).item.index);
  return stale;
}
