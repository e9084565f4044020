import type { SqlClient } from './sql-client.js';
import { buriedSql } from './version-order.js';

/**
 * Tombstones: deletes remembered for a while (`tombstones`, one row per document, the newest delete), so that
 * a version read before a delete (a migration page, a late or repeated sync batch) cannot bring its row back.
 * The write path never writes a version a tombstone buries (`buriedSql`, in the upsert itself), and a newer
 * version (the document created again) clears it.
 *
 * One race is left to close: a write that checks for a tombstone before a concurrent delete commits, of a
 * row that does not exist yet, would insert it after the delete found nothing to delete. So both take an
 * advisory lock on the documents' ids first, for the length of their transaction: writers share it, a
 * delete takes it alone. Ids are hashed into {@link lockBuckets} buckets, so a page of thousands of ids
 * takes at most that many locks (PostgreSQL's shared lock table holds `max_locks_per_transaction` × connections),
 * always in ascending order, so two transactions can never wait for each other's buckets.
 */

/** Buckets the ids hash into; few enough to bound the locks a page takes, many enough that deletes rarely wait. */
export const lockBuckets = 64;
/** The first key of this module's advisory locks (two-int form), so they cannot meet anyone else's. */
const lockSpace = 0x6e6f7374;

/** FNV-1a over the UTF-16 code units: the same bucket for an id in every process, whatever it holds. */
function bucketOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i += 1) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % lockBuckets;
}

/** The buckets of `ids`, each once, ascending. */
export function identityBuckets(ids: Iterable<string>): number[] {
  return [...new Set([...ids].map(bucketOf))].sort((a, b) => a - b);
}

/**
 * Takes the advisory locks of `ids` until the transaction ends: `shared` for writers of versions, `exclusive`
 * for deletes. Call it first in the transaction, before any row lock, so lock order is the same everywhere.
 */
export async function lockIdentities(db: SqlClient, ids: Iterable<string>, mode: 'shared' | 'exclusive'): Promise<void> {
  const buckets = identityBuckets(ids);
  if (buckets.length === 0) return;
  const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  // unnest yields the array in order, so the locks are taken in ascending bucket order.
  await db.$executeRawUnsafe(`SELECT ${lock}($1::int, u.b) FROM unnest($2::int[]) AS u(b)`, lockSpace, buckets);
}

/** A document version looked up against the tombstones. */
export interface BuriedRef {
  id: string;
  pubkey: string;
  cosmosTs: number;
  lsn: number | null;
}

/** Which of `refs` (by position) a recorded delete buries: they are stale copies of deleted documents. */
export async function findBuried(db: SqlClient, refs: readonly BuriedRef[]): Promise<Set<number>> {
  if (refs.length === 0) return new Set();
  const records = await db.$queryRawUnsafe<Array<{ ord: bigint }>>(
    // numeric, not bigint: the `_ts` of a document that failed to map may be any JSON number (1.5, 1e300).
    `SELECT r."ord" FROM unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[])
       WITH ORDINALITY AS r("id", "pubkey", "cosmosTs", "cosmosLsn", "ord")
     WHERE EXISTS (SELECT 1 FROM "tombstones" tb WHERE tb."id" = r."id" AND tb."pubkey" IN (r."pubkey", '')
       AND ${buriedSql('r', { ts: 'tb."cosmosTs"', lsn: 'tb."cosmosLsn"' })})`,
    refs.map((ref) => ref.id),
    refs.map((ref) => ref.pubkey),
    refs.map((ref) => ref.cosmosTs),
    refs.map((ref) => ref.lsn),
  );
  return new Set(records.map((record) => Number(record.ord) - 1));
}

/** Default of DELETE_RETENTION_DAYS: a week outlives any page in flight, any retried batch and any queued resync. */
export const defaultDeleteRetentionDays = 7;
/** Tombstones purged per call at most, so a purge never makes a delete batch slow. */
const purgeLimit = 1000;

/** Removes up to a thousand tombstones recorded more than `retentionDays` ago. */
export async function purgeTombstones(db: SqlClient, retentionDays: number): Promise<number> {
  return db.$executeRawUnsafe(
    `DELETE FROM "tombstones" WHERE ctid IN (
       SELECT ctid FROM "tombstones" WHERE "deletedAt" < now() - make_interval(days => $1::int) LIMIT ${purgeLimit})`,
    retentionDays,
  );
}
