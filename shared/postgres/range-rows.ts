import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import type { ReconcileRow } from './reconcile-rows.js';
import type { SqlClient } from './sql-client.js';

/**
 * The PostgreSQL side of a pass by feed range (verification of everything, reconcile): the rows of one feed
 * range, walked in keyset pages, each said to be seen or not in the range's change feed.
 *
 * Which rows a range holds is decided by their pubkey's effective partition key (EPK), kept once per pubkey in
 * `partition_key_hashes` (as bytes, so `[min, max)` compares in EPK order whatever the collation): the walk takes
 * the range's pubkeys in (epk, pubkey) order from that table's index, then their rows from the seven tables (each
 * has an index led by `pubkey`, which `pubkey = ANY(...)` is served from whatever the planner thinks of the join),
 * in (epk, pubkey, id, table) order. What the range's change feed held is in
 * `pass_seen_keys`, one UUID per document: the MD5 of its pubkey and id, prefixed by the pubkey's length in bytes
 * so that no two (pubkey, id) pairs write the same text. 128 bits: a collision among even billions of keys is
 * beyond practical odds, and would only make a row look seen (reconcile keeps it; nothing is removed by it).
 * Table names come from the descriptors, never from input; every value is a bind parameter.
 */

/** A row of a range as a page returns it: where it is, whose it is, its version, its pubkey's EPK, and whether the range's feed had it. */
export interface RangeRow extends ReconcileRow {
  /** The pubkey's EPK, uppercase hex. */
  epk: string;
  seen: boolean;
}

/** A pubkey of a range and its EPK (uppercase hex). */
export interface RangeKey {
  pubkey: string;
  epk: string;
}

/**
 * Where a walk stands: after the rows of (epk, pubkey) up to (`after.id`, `after.table`), or after all of that
 * pubkey's rows when `after` is absent. Null before the first page.
 */
export interface RangeCursor {
  epk: string;
  pubkey: string;
  after?: { id: string; table: string };
}

const tables = documentTypeNames.map((type) => documentTypes[type].table);

/** The seen key of a document, in SQL, from its pubkey and id expressions. */
const seenKeyOf = (pubkey: string, id: string) => `md5(octet_length(${pubkey})::text || ':' || ${pubkey} || ${id})::uuid`;

/**
 * Remembers that the range's change feed holds these documents (`rangeId`: the pass range's id). Keys that no
 * row can have (a NUL character, which PostgreSQL text cannot hold) are left out by the caller.
 */
export async function recordSeenKeys(db: SqlClient, rangeId: string, keys: ReadonlyArray<{ pubkey: string; id: string }>): Promise<void> {
  if (keys.length === 0) return;
  await db.$executeRawUnsafe(
    `INSERT INTO "pass_seen_keys" ("rangeId", "key")
     SELECT $1::uuid, ${seenKeyOf('u.p', 'u.i')} FROM unnest($2::text[], $3::text[]) AS u(p, i)
     ON CONFLICT DO NOTHING`,
    rangeId,
    keys.map((key) => key.pubkey),
    keys.map((key) => key.id),
  );
}

/** Forgets what the listed pass ranges' feeds held (their pass is over, or they are read again). */
export async function forgetSeenKeys(db: SqlClient, rangeIds: readonly string[]): Promise<number> {
  if (rangeIds.length === 0) return 0;
  return db.$executeRawUnsafe('DELETE FROM "pass_seen_keys" WHERE "rangeId" = ANY($1::uuid[])', [...rangeIds]);
}

const missingHashesStatement = `SELECT DISTINCT p."pubkey" FROM (${tables
  .map((table) => `SELECT "pubkey" FROM "${table}" WHERE "pubkey" > $2`)
  .join(' UNION ALL ')}) p
  WHERE NOT EXISTS (SELECT 1 FROM "partition_key_hashes" h WHERE h."scheme" = $1 AND h."pubkey" = p."pubkey")
  ORDER BY p."pubkey" LIMIT $3`;

/**
 * The next `limit` pubkeys after `after` (in pubkey order) that have rows but no EPK in `scheme` yet. Each table's
 * pubkey index is read in order and merged, so a page costs what it skips over, once per fill.
 */
export async function pubkeysWithoutHash(db: SqlClient, scheme: string, after: string, limit: number): Promise<string[]> {
  const rows = await db.$queryRawUnsafe<Array<{ pubkey: string }>>(missingHashesStatement, scheme, after, limit);
  return rows.map((row) => row.pubkey);
}

/** Records pubkeys' EPKs (uppercase hex) in `scheme`; one recorded already is left as it is (a pubkey's hash never changes). */
export async function saveHashes(db: SqlClient, scheme: string, keys: readonly RangeKey[]): Promise<void> {
  if (keys.length === 0) return;
  await db.$executeRawUnsafe(
    `INSERT INTO "partition_key_hashes" ("scheme", "pubkey", "epk")
     SELECT $1, u.p, decode(u.e, 'hex') FROM unnest($2::text[], $3::text[]) AS u(p, e)
     ON CONFLICT DO NOTHING`,
    scheme,
    keys.map((key) => key.pubkey),
    keys.map((key) => key.epk),
  );
}

const keysStatement = (comparison: '>' | '>=') => `SELECT h."pubkey", upper(encode(h."epk", 'hex')) AS "epk"
  FROM "partition_key_hashes" h
  WHERE h."scheme" = $1 AND h."epk" >= decode($2, 'hex') AND h."epk" < decode($3, 'hex')
    AND (h."epk", h."pubkey") ${comparison} (decode($4, 'hex'), $5)
  ORDER BY h."epk", h."pubkey" LIMIT $6`;

const keysAfter = keysStatement('>');
const keysFrom = keysStatement('>=');

/**
 * The range's next `limit` pubkeys from where `cursor` stands: from its pubkey on when the walk stopped inside
 * that pubkey's rows, after it otherwise. `bounds` are the range's, in hex, `max` exclusive.
 */
export async function rangeKeysFrom(
  db: SqlClient,
  scheme: string,
  bounds: { min: string; max: string },
  cursor: RangeCursor | null,
  limit: number,
): Promise<RangeKey[]> {
  const statement = cursor?.after ? keysFrom : keysAfter;
  return db.$queryRawUnsafe<RangeKey[]>(statement, scheme, bounds.min, bounds.max, cursor?.epk ?? '', cursor?.pubkey ?? '', limit);
}

const rowsStatement = `WITH k AS (SELECT u.p AS "pubkey", decode(u.e, 'hex') AS "epk" FROM unnest($1::text[], $2::text[]) AS u(p, e))
  SELECT upper(encode(p."epk", 'hex')) AS "epk", p."table", p."id", p."pubkey", p."cosmosTs", p."cosmosLsn", p."cosmosEtag",
    s."seen" IS NOT NULL AS "seen"
  FROM (
    SELECT r.* FROM (${tables
      .map(
        (table) => `SELECT k."epk", '${table}'::text AS "table", t."id", t."pubkey", t."cosmosTs", t."cosmosLsn", t."cosmosEtag"
        FROM "${table}" t JOIN k ON k."pubkey" = t."pubkey" WHERE t."pubkey" = ANY($1::text[])`,
      )
      .join('\n      UNION ALL ')}) r
    WHERE (r."epk", r."pubkey", r."id", r."table") > (decode($4, 'hex'), $5, $6, $7)
    ORDER BY r."epk", r."pubkey", r."id", r."table" LIMIT $8
  ) p
  LEFT JOIN LATERAL (SELECT true AS "seen" FROM "pass_seen_keys" s
    WHERE s."rangeId" = $3::uuid AND s."key" = ${seenKeyOf('p."pubkey"', 'p."id"')} LIMIT 1) s ON true
  ORDER BY p."epk", p."pubkey", p."id", p."table"`;

/**
 * The next `limit` rows of `keys` (pubkeys of one range, in walk order) after `cursor`, in walk order, each with
 * whether the range's feed held its document (`rangeId`'s seen keys): one lookup in their index per row returned
 * (a lateral subquery, so that the planner never hashes every seen key of the range for each page instead).
 */
export async function rangeRowsOf(
  db: SqlClient,
  rangeId: string,
  keys: readonly RangeKey[],
  cursor: RangeCursor | null,
  limit: number,
): Promise<RangeRow[]> {
  if (keys.length === 0) return [];
  return db.$queryRawUnsafe<RangeRow[]>(
    rowsStatement,
    keys.map((key) => key.pubkey),
    keys.map((key) => key.epk),
    rangeId,
    cursor?.epk ?? '',
    cursor?.pubkey ?? '',
    cursor?.after?.id ?? '',
    cursor?.after?.table ?? '',
    limit,
  );
}

/** One page of a range's walk: its rows, where the walk stands after them, and whether the range has no more. */
export interface RangePage {
  rows: RangeRow[];
  next: RangeCursor | null;
  done: boolean;
  /** Pubkeys the page looked at (for sizing the next page's key lookup). */
  keys: number;
}

/** What a walk reads from: the range, its EPK scheme and bounds, and the pass range whose seen keys say what its feed held. */
export interface RangeWalkTarget {
  rangeId: string;
  scheme: string;
  bounds: { min: string; max: string };
}

/**
 * The page of at most `limit` rows after `cursor`, looking at up to `keysLimit` of the range's pubkeys (a page
 * stops inside a pubkey with more rows than it has room for, and continues there). The walk is done when a page
 * leaves no pubkey of the range unread.
 */
export async function rangePageAfter(
  db: SqlClient,
  target: RangeWalkTarget,
  cursor: RangeCursor | null,
  limit: number,
  keysLimit: number,
): Promise<RangePage> {
  const keys = await rangeKeysFrom(db, target.scheme, target.bounds, cursor, keysLimit);
  const lastKey = keys.at(-1);
  if (!lastKey) return { rows: [], next: cursor, done: true, keys: 0 };
  const rows = await rangeRowsOf(db, target.rangeId, keys, cursor, limit);
  const last = rows.at(-1);
  if (last && rows.length === limit) {
    return {
      rows,
      next: { epk: last.epk, pubkey: last.pubkey, after: { id: last.id, table: last.table } },
      done: false,
      keys: keys.length,
    };
  }
  // Every row of these pubkeys is in hand: the walk goes on after the last of them, if the range has more.
  return { rows, next: { epk: lastKey.epk, pubkey: lastKey.pubkey }, done: keys.length < keysLimit, keys: keys.length };
}
