import { type DocumentType, documentTypes } from '../domain/document-types.js';
import { sqlTypeOf } from '../domain/fields.js';
import type { Row } from '../domain/mapping.js';
import { copyData, valueText } from './copy-text.js';
import { sqlStateOf, UNIQUE_VIOLATION } from './postgres-errors.js';
import type { CopyClient, SqlClient } from './sql-client.js';
import { quoteIdentifier as quote } from './sql-identifier.js';
import { buriedSql, entryOutlivesRowSql, mayReplaceSql } from './version-order.js';

/**
 * The set-based write of mapped rows: one `INSERT … SELECT FROM unnest(…) ON CONFLICT … DO UPDATE … WHERE`
 * per chunk, guarded so that it never replaces a newer row with an older version of a document and
 * never lets one document take over another's row, and never writes a version that a recorded delete (a
 * tombstone) says is not newer than the delete (the rules, and the guard's SQL, are `version-order.ts`).
 * The SQL text is built from the type descriptors only (fixed identifiers); every value travels as one
 * array parameter per column, so a statement has the same dozen-or-so parameters however many rows it
 * carries (PostgreSQL's 65535-parameter limit never comes near; chunk size is a memory and lock-duration
 * choice). Each array is sent as its text literal ({@link arrayLiteral}), built here rather than by the
 * driver stack, which otherwise converts every element on its way (issue 15: ~20% of a page's client CPU).
 *
 * The guarded upsert decides every row against the row it meets, and returns only the rows that were not
 * simply written. A chunk that meets nothing — no row holds one of its keys (nor, in a pubkey-keyed table,
 * ids), no tombstone or quarantine entry names one of its documents: every page of a fresh full load — has
 * nothing to guard against, bury or clear, and goes in with COPY instead, PostgreSQL's own bulk load (no
 * lookup of a current row, no comparison, no conflict clause, rows inserted in batches). Whether it meets a
 * row is not asked row by row: the table's unique indexes answer that as COPY inserts, so a cheap probe (is
 * the chunk's first key taken? does any tombstone or quarantine entry exist at all?) decides whether to try,
 * and the COPY runs under a savepoint. If it meets a row (a unique violation: a row committed before, or one a
 * concurrent writer inserts and commits while COPY waits for it), it is rolled back to the savepoint and the
 * chunk takes the guarded path, which then finds and locks that row. Issue 15, `bench/page-profile.ts`: on a
 * fresh 1,000-row page the row lock (one index probe per key, then the same probes again as COPY inserts) took
 * 7.7 ms; the probe and the two savepoints take 1.4. A page whose first row exists pays the probe, 0.8 ms.
 * Nothing in between can make a COPY wrong: the documents' identity locks (`tombstones.ts`) keep deletes out
 * until commit, and COPY inserts every row or none.
 */

export interface UpsertOptions {
  /** Insert new rows only and leave every existing row alone (reported as `skipped`). */
  skipExisting?: boolean;
}

/** Another document that holds the key or the id the incoming row needs. */
export interface RowHolder {
  id: string;
  pubkey: string;
  cosmosTs: number;
}

export type RowOutcome =
  /** `displaced`: the other document's row this one replaced (pubkey-keyed tables), as it was. */
  | { outcome: 'written'; displaced?: Record<string, unknown> }
  | { outcome: 'unchanged' | 'skipped' }
  /** A tombstone says the document was deleted after this version: it is not written (nor displaces anything). */
  | { outcome: 'buried' }
  /** The row was not written because `holder` owns its key (pubkey-keyed, newer) or its id. */
  | { outcome: 'conflict'; holder: RowHolder; reason: 'newer-document-holds-pubkey' | 'id-owned-by-other-pubkey' }
  /** A concurrent writer changed the row between the lock and the write: apply it again. */
  | { outcome: 'retry' };

export interface Column {
  name: string;
  /** The array element type of its unnest parameter. */
  paramType: string;
  json: boolean;
}

interface Statements {
  /** Whether a COPY of the chunk is worth trying (see {@link Probe}); parameters: the first row's key (and id). */
  probe: string;
  /** Whether a tombstone or quarantine entry names one of the chunk's documents; parameters: ids, pubkeys. */
  named: string;
  /** Locks the rows the guarded write may touch; parameters: ids, pubkeys. */
  lock: string;
  write: string;
  skipExisting: string;
  copy: string;
  columns: Column[];
}

/** What the probe found: whether the first row's key (or id) is taken, and whether the two side tables hold anything. */
interface Probe {
  taken: boolean;
  tombstones: boolean;
  quarantine: boolean;
}

/** The columns of `type`'s table the write path fills, in statement (and COPY) order. */
export function columnsOf(type: DocumentType): Column[] {
  const descriptor = documentTypes[type];
  const columns: Column[] = [
    { name: 'id', paramType: 'text', json: false },
    { name: 'pubkey', paramType: 'text', json: false },
  ];
  if (descriptor.storesType) columns.push({ name: 'type', paramType: 'text', json: false });
  for (const [name, kind] of Object.entries(descriptor.columns)) {
    columns.push({ name, paramType: kind === 'json' ? 'text' : sqlTypeOf[kind], json: kind === 'json' });
  }
  columns.push(
    { name: 'extra', paramType: 'text', json: true },
    { name: 'cosmosTs', paramType: 'bigint', json: false },
    { name: 'cosmosEtag', paramType: 'text', json: false },
    { name: 'cosmosLsn', paramType: 'bigint', json: false },
  );
  return columns;
}

/**
 * The columns whose difference makes an equal version a new one: all but the identity and the version's `_ts`.
 * The position is among them, so a version seen again through the change feed records its position.
 */
function contentColumns(columns: readonly Column[]): string[] {
  return columns.map((column) => column.name).filter((name) => !['id', 'pubkey', 'cosmosTs'].includes(name));
}

function buildStatements(type: DocumentType): Statements {
  const descriptor = documentTypes[type];
  const table = quote(descriptor.table);
  const key = quote(descriptor.key);
  const byPubkey = descriptor.key === 'pubkey';
  const columns = columnsOf(type);
  const content = contentColumns(columns);
  const names = columns.map((c) => quote(c.name)).join(', ');
  const unnest = columns.map((c, index) => `$${index + 1}::${c.paramType}[]`).join(', ');
  const casts = columns.map((c) => (c.json ? `u.${quote(c.name)}::jsonb AS ${quote(c.name)}` : `u.${quote(c.name)}`)).join(', ');
  const tombstone = { ts: 'tb."cosmosTs"', lsn: 'tb."cosmosLsn"' };
  const input = `input AS MATERIALIZED (
  SELECT u."ord", ${casts},
    EXISTS (SELECT 1 FROM "tombstones" tb WHERE tb."id" = u."id" AND tb."pubkey" IN (u."pubkey", '')
      AND ${buriedSql('u', tombstone)}) AS "buried"
  FROM unnest(${unnest}) WITH ORDINALITY AS u(${names}, "ord")
)`;
  // A pubkey-keyed table also has a unique id: a row whose id another pubkey holds is never inserted.
  // Lookups are LATERAL … LIMIT 1 so that each is an index probe: as plain joins the planner, with the
  // stale statistics of a table a migration is filling, picks hash joins that scan the whole table per chunk.
  const idOwner = `LEFT JOIN LATERAL (SELECT o."pubkey", o."cosmosTs" FROM ${table} o
    WHERE o."id" = i."id" AND o."pubkey" <> i."pubkey" LIMIT 1) o ON true`;
  const writable = byPubkey ? `${idOwner} WHERE NOT i."buried" AND o."pubkey" IS NULL` : 'WHERE NOT i."buried"';
  const updates = columns
    .filter((c) => c.name !== descriptor.key)
    .map((c) => `${quote(c.name)} = EXCLUDED.${quote(c.name)}`)
    .join(', ');
  const insert = (conflict: string) => `written AS (
  INSERT INTO ${table} AS cur (${names})
  SELECT ${columns.map((c) => `i.${quote(c.name)}`).join(', ')} FROM input i ${writable}
  ${conflict}
  RETURNING cur.${key} AS "key"
),
-- A written document leaves the quarantine, unless the entry there is a newer version of it. Mapped rows
-- never hold U+0000, so their quarantine key is always "<pubkey>/<id>" (see quarantineKey).
cleared AS (
  DELETE FROM "quarantine" q USING input i, written w
  WHERE w."key" = i.${key} AND q."key" = i."pubkey" || '/' || i."id"
    AND NOT ${entryOutlivesRowSql(type, 'q', 'i')}
),
-- A version written is newer than any delete recorded for its document (else it was buried): the document
-- was created again, and the tombstone has done its work.
unburied AS (
  DELETE FROM "tombstones" tb USING input i, written w
  WHERE w."key" = i.${key} AND tb."id" = i."id" AND tb."pubkey" IN (i."pubkey", '')
)`;
  // Rows written without displacing anything are the rule and are not sent back: a row of the chunk that
  // is not in the result was written (see `outcomeOf`).
  const select = `SELECT i."ord",
  w."key" IS NOT NULL AS "written", i."buried",
  p."id" AS "prevId", p."pubkey" AS "prevPubkey", p."cosmosTs" AS "prevTs",
  COALESCE(${mayReplaceSql(type, 'i', 'p', content)}, true) AS "mayReplace",
  ${byPubkey ? 'o."pubkey"' : 'NULL::text'} AS "idOwner",
  ${byPubkey ? 'o."cosmosTs"' : 'NULL::bigint'} AS "idOwnerTs",
  ${byPubkey ? 'CASE WHEN w."key" IS NOT NULL AND p."id" <> i."id" THEN to_jsonb(p) END' : 'NULL::jsonb'} AS "displaced"
FROM input i
LEFT JOIN written w ON w."key" = i.${key}
LEFT JOIN LATERAL (SELECT * FROM ${table} t WHERE t.${key} = i.${key} LIMIT 1) p ON true
${byPubkey ? idOwner : ''}
WHERE w."key" IS NULL${byPubkey ? ' OR p."id" <> i."id"' : ''}
ORDER BY i."ord"`;
  const documents = 'unnest($1::text[], $2::text[]) AS d("id", "pubkey")';
  // The keys whose rows the write may touch: the chunk's own, and in a pubkey-keyed table the keys of the rows
  // that hold one of its ids.
  const lockKeys = byPubkey
    ? `SELECT d."pubkey" FROM ${documents} UNION ALL SELECT o."pubkey" FROM ${documents}
    CROSS JOIN LATERAL (SELECT t."pubkey" FROM ${table} t WHERE t."id" = d."id" LIMIT 1) o`
    : `SELECT d."id" FROM ${documents}`;
  const write = `ON CONFLICT (${key}) DO UPDATE SET ${updates}
  WHERE ${mayReplaceSql(type, 'EXCLUDED', 'cur', content)}`;
  return {
    columns,
    probe: `SELECT EXISTS (SELECT 1 FROM ${table} t WHERE t.${key} = $1)${byPubkey ? ` OR EXISTS (SELECT 1 FROM ${table} t WHERE t."id" = $2)` : ''} AS "taken",
  EXISTS (SELECT 1 FROM "tombstones") AS "tombstones", EXISTS (SELECT 1 FROM "quarantine") AS "quarantine"`,
    named: `SELECT EXISTS (SELECT 1 FROM ${documents} CROSS JOIN LATERAL
    (SELECT 1 FROM "tombstones" tb WHERE tb."id" = d."id" AND tb."pubkey" IN (d."pubkey", '') LIMIT 1) tb)
  OR EXISTS (SELECT 1 FROM ${documents} CROSS JOIN LATERAL
    (SELECT 1 FROM "quarantine" q WHERE q."key" = d."pubkey" || '/' || d."id" LIMIT 1) q) AS "named"`,
    // Locks the existing rows in key order before the upsert, so the upsert's snapshot sees their latest
    // committed versions (what the outcome and a displaced row are read from) and concurrent writers of
    // overlapping batches queue instead of deadlocking. One index probe per key (LATERAL … FOR UPDATE, which the
    // planner cannot turn into a join): as `key = ANY(…)` the planner scans the whole table once it holds some
    // ten thousand rows. The order is bytewise (COLLATE "C"): any order every writer shares will do, and that
    // one sorts fastest.
    lock: `SELECT count(*)::int AS "locked" FROM (SELECT k.${key} FROM (${lockKeys}) k GROUP BY k.${key} ORDER BY k.${key} COLLATE "C") k
  CROSS JOIN LATERAL (SELECT 1 FROM ${table} t WHERE t.${key} = k.${key} FOR UPDATE) l`,
    write: `WITH ${input},\n${insert(write)}\n${select}`,
    skipExisting: `WITH ${input},\n${insert(`ON CONFLICT (${key}) DO NOTHING`)}\n${select}`,
    copy: `COPY ${table} (${names}) FROM STDIN`,
  };
}

const statementCache = new Map<DocumentType, Statements>();

function statementsFor(type: DocumentType): Statements {
  let statements = statementCache.get(type);
  if (!statements) {
    statements = buildStatements(type);
    statementCache.set(type, statements);
  }
  return statements;
}

/**
 * `valueOf` each of `rows` as a PostgreSQL array literal, exactly as `pg` would encode that array (NULL bare,
 * every other element quoted, with `\\` and `"` escaped); with `json`, the values as their JSON text.
 */
function arrayLiteral(rows: readonly Row[], valueOf: (row: Row) => unknown, json = false): string {
  let literal = '{';
  for (let index = 0; index < rows.length; index += 1) {
    if (index > 0) literal += ',';
    const value = valueOf(rows[index] as Row);
    if (value === null || value === undefined) {
      literal += 'NULL';
      continue;
    }
    literal += `"${valueText(value, json).replace(/[\\"]/g, '\\$&')}"`;
  }
  return `${literal}}`;
}

/** The array parameters for a chunk: one array literal per column, in statement order. */
function parametersOf(columns: Column[], rows: readonly Row[]): string[] {
  return columns.map((column) => arrayLiteral(rows, (row) => row[column.name], column.json));
}

/** The outcome of every row the statement does not send back; one shared, frozen object. */
const writtenOutcome: RowOutcome = Object.freeze({ outcome: 'written' });

interface OutcomeRecord {
  ord: bigint;
  written: boolean;
  buried: boolean;
  prevId: string | null;
  prevPubkey: string | null;
  prevTs: bigint | null;
  mayReplace: boolean;
  idOwner: string | null;
  idOwnerTs: bigint | null;
  displaced: Record<string, unknown> | null;
}

/**
 * Writes one chunk of rows of one type and says what happened to each (same order as `rows`).
 * Preconditions, which the caller's de-duplication guarantees: no two rows share a key, and in a
 * pubkey-keyed table no two rows share an id. Run it inside a transaction: the row locks it takes
 * are held until commit, which is what makes the reported outcomes (and displaced rows) exact.
 */
export async function upsertRows(
  db: CopyClient,
  type: DocumentType,
  rows: readonly Row[],
  options: UpsertOptions = {},
): Promise<RowOutcome[]> {
  if (rows.length === 0) return [];
  const statements = statementsFor(type);
  if ((await mayMeetNothing(db, statements, type, rows)) && (await copyUnlessARowIsMet(db, statements, type, rows))) {
    return rows.map(() => writtenOutcome);
  }
  return guardedWrite(db, statements, type, rows, options.skipExisting === true);
}

/** Whether `rows` may meet nothing (see the module comment): the probe, and only if need be a look per document. */
async function mayMeetNothing(db: CopyClient, statements: Statements, type: DocumentType, rows: readonly Row[]): Promise<boolean> {
  const first = rows[0] as Row;
  const keyed = documentTypes[type].key === 'pubkey' ? [first.pubkey, first.id] : [first.id];
  const [probe] = await db.$queryRawUnsafe<Probe[]>(statements.probe, ...keyed);
  if (!probe || probe.taken) return false;
  if (!probe.tombstones && !probe.quarantine) return true;
  const [found] = await db.$queryRawUnsafe<Array<{ named: boolean }>>(statements.named, ...identityArrays(rows));
  return found?.named === false;
}

/**
 * COPYs `rows` in under a savepoint; true if every row went in. False, with nothing of it kept, when one met a
 * row already there (a unique violation); any other error is the caller's, as from any statement.
 */
async function copyUnlessARowIsMet(db: CopyClient, statements: Statements, type: DocumentType, rows: readonly Row[]): Promise<boolean> {
  await db.$executeRawUnsafe('SAVEPOINT copy_chunk');
  let copied: number;
  try {
    copied = await db.copyFrom(statements.copy, copyData(statements.columns, rows));
  } catch (error) {
    if (sqlStateOf(error) !== UNIQUE_VIOLATION) throw error;
    await db.$executeRawUnsafe('ROLLBACK TO SAVEPOINT copy_chunk');
    await db.$executeRawUnsafe('RELEASE SAVEPOINT copy_chunk');
    return false;
  }
  // COPY inserts every line or fails; another count means the text was cut wrong, and nothing may commit.
  if (copied !== rows.length) throw new Error(`${type}: COPY took ${copied} rows of ${rows.length}`);
  await db.$executeRawUnsafe('RELEASE SAVEPOINT copy_chunk');
  return true;
}

/** The row lock, then the version-guarded upsert, which reports every row not simply written. */
async function guardedWrite(
  db: CopyClient,
  statements: Statements,
  type: DocumentType,
  rows: readonly Row[],
  skipExisting: boolean,
): Promise<RowOutcome[]> {
  await db.$queryRawUnsafe(statements.lock, ...identityArrays(rows));
  const byPubkey = documentTypes[type].key === 'pubkey';
  const outcomes: RowOutcome[] = rows.map(() => writtenOutcome);
  const statement = skipExisting ? statements.skipExisting : statements.write;
  const records = await db.$queryRawUnsafe<OutcomeRecord[]>(statement, ...parametersOf(statements.columns, rows));
  for (const record of records) {
    const index = Number(record.ord) - 1;
    outcomes[index] = outcomeOf(rows[index] as Row, record, skipExisting, byPubkey);
  }
  return outcomes;
}

/** The ids and the pubkeys of `rows`, as the two array parameters of the lock and of the look per document. */
function identityArrays(rows: readonly Row[]): [string, string] {
  return [arrayLiteral(rows, (row) => row.id), arrayLiteral(rows, (row) => row.pubkey)];
}

function outcomeOf(row: Row, record: OutcomeRecord, skipExisting: boolean, byPubkey: boolean): RowOutcome {
  if (record.buried) return { outcome: 'buried' };
  if (record.idOwner !== null) {
    return {
      outcome: 'conflict',
      reason: 'id-owned-by-other-pubkey',
      holder: { id: row.id, pubkey: record.idOwner, cosmosTs: Number(record.idOwnerTs) },
    };
  }
  const previous =
    record.prevId !== null && record.prevPubkey !== null
      ? { id: record.prevId, pubkey: record.prevPubkey, cosmosTs: Number(record.prevTs) }
      : undefined;
  if (!byPubkey && previous && previous.pubkey !== row.pubkey) {
    return { outcome: 'conflict', reason: 'id-owned-by-other-pubkey', holder: previous };
  }
  const sameDocument = previous?.id === row.id;
  if (skipExisting && previous) return { outcome: 'skipped' };
  if (record.written) return record.displaced ? { outcome: 'written', displaced: record.displaced } : { outcome: 'written' };
  // Not written although the locked row allowed it (or there was none): a concurrent insert won the race.
  if (!previous || record.mayReplace || skipExisting) return { outcome: 'retry' };
  return sameDocument ? { outcome: 'unchanged' } : { outcome: 'conflict', reason: 'newer-document-holds-pubkey', holder: previous };
}

/** A document version to look up in its table by identity (id and pubkey). */
export interface VersionRef {
  id: string;
  pubkey: string;
  cosmosTs: number;
}

/**
 * Which of `refs` (by position) have a row of the same document with a strictly newer `cosmosTs`: an
 * older version that arrives late (out of order) is stale, whatever else is wrong with it. By `_ts` alone,
 * the first of the version fields: the document could not be mapped, so any other field (`modified`
 * included) may be what is wrong with it.
 */
export async function findNewerRows(db: SqlClient, type: DocumentType, refs: readonly VersionRef[]): Promise<Set<number>> {
  if (refs.length === 0) return new Set();
  const table = quote(documentTypes[type].table);
  const records = await db.$queryRawUnsafe<Array<{ ord: bigint }>>(
    // numeric, not bigint: the `_ts` of a document that failed to map may be any JSON number (1.5, 1e300).
    `SELECT r."ord" FROM unnest($1::text[], $2::text[], $3::numeric[]) WITH ORDINALITY AS r("id", "pubkey", "cosmosTs", "ord")
     JOIN ${table} t ON t."id" = r."id" AND t."pubkey" = r."pubkey"
     WHERE t."cosmosTs" > r."cosmosTs"`,
    refs.map((ref) => ref.id),
    refs.map((ref) => ref.pubkey),
    refs.map((ref) => ref.cosmosTs),
  );
  return new Set(records.map((record) => Number(record.ord) - 1));
}
