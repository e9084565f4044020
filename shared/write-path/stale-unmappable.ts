import type { DocumentType } from '../domain/document-types.js';
import { findNewerRows, type SqlClient, type VersionRef } from '../postgres/bulk-upsert.js';
import type { Unmappable } from './plan-documents.js';

/** The identity and `_ts` of an unmappable document, when it has them. */
function versionRefOf(item: Unmappable): VersionRef | undefined {
  const fields = item.document as Record<string, unknown>;
  if (typeof fields.id !== 'string' || typeof fields.pubkey !== 'string' || typeof fields._ts !== 'number') return undefined;
  return { id: fields.id, pubkey: fields.pubkey, cosmosTs: fields._ts };
}

/**
 * Which unmappable documents (by `index`) are stale rather than broken: an older version of a document
 * whose newer version is already in its table (looked up when the unmappable version names its type), or
 * was written by this same call (`writtenTs`: `_ts` by `pubkey/id`, whatever type the unmappable version
 * names). Such a late, out-of-order copy is counted `unchanged`, not quarantined. Call it after the
 * writes, in the same transaction, so that the rows this call wrote are seen.
 */
export async function findStaleUnmappable(
  db: SqlClient,
  unmappable: readonly Unmappable[],
  writtenTs: ReadonlyMap<string, number>,
): Promise<Set<number>> {
  const stale = new Set<number>();
  const byType = new Map<DocumentType, Array<{ item: Unmappable; ref: VersionRef }>>();
  for (const item of unmappable) {
    const ref = versionRefOf(item);
    if (!ref) continue;
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
  return stale;
}
