import { type DocumentType, documentTypes } from '../domain/document-types.js';
import { sqlTypeOf } from '../domain/fields.js';
import type { Row } from '../domain/mapping.js';
import type { PrismaClient } from './prisma-client.js';

/**
 * The set-based write of mapped rows: one `INSERT … SELECT FROM unnest(…) ON CONFLICT … DO UPDATE … WHERE`
 * per chunk, guarded so that it never replaces a newer row with an older version of a document and
 * never lets one document take over another's row. The SQL text is built from the type descriptors
 * only (fixed identifiers); every value travels as one array parameter per column, so a statement has
 * the same dozen-or-so parameters however many rows it carries (PostgreSQL's 65535-parameter limit
 * never comes near; chunk size is a memory and lock-duration choice).
 *
 * Version order of two rows of the same document (the guard, here and in {@link compareVersions}):
 * 1. the source `_ts` (`cosmosTs`, seconds), then
 * 2. `modified` (milliseconds) where the type has it, a missing `modified` counting as older than any.
 *    `account-settings` has no `modified`: two of its versions written in the same second cannot be
 *    ordered, and are treated as case 3.
 * 3. Equal versions: identical content is "unchanged" (so re-applying changes nothing); different
 *    content is written (last applied wins). Whoever re-reads the source (a resumed run, the
 *    incremental catch-up, verification's repair) applies the latest version last, so this converges.
 * Pubkey-keyed tables (one document per user) order two *different* documents of one pubkey by the
 * same version, then by id, so the newest always ends in the table whatever the arrival order.
 */

/** What the write needs from Prisma: a client or an interactive transaction's client. */
export type SqlClient = Pick<PrismaClient, '$queryRawUnsafe'>;

export interface UpsertOptions {
  /** Insert new rows only and leave every existing row alone (reported as `skipped`). */
  skipExisting?: boolean;
  /** Classify every row as the write would, change nothing and take no locks. */
  dryRun?: boolean;
}

type StatementKind = 'write' | 'skipExisting' | 'classify';

/** Another document that holds the key or the id the incoming row needs. */
export interface RowHolder {
  id: string;
  pubkey: string;
  cosmosTs: number;
}

export type RowOutcome =
  /** `displaced`: the other document's row this one replaced (pubkey-keyed tables); in a dry run only its identity. */
  | { outcome: 'written'; displaced?: Record<string, unknown> }
  | { outcome: 'unchanged' | 'skipped' }
  /** The row was not written because `holder` owns its key (pubkey-keyed, newer) or its id. */
  | { outcome: 'conflict'; holder: RowHolder; reason: 'newer-document-holds-pubkey' | 'id-owned-by-other-pubkey' }
  /** A concurrent writer changed the row between the lock and the write: apply it again. */
  | { outcome: 'retry' };

interface Column {
  name: string;
  /** The array element type of its unnest parameter. */
  paramType: string;
  json: boolean;
}

interface Statements {
  lock: string;
  upsert: Record<StatementKind, string>;
  columns: Column[];
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

function quote(name: string): string {
  if (!identifier.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return `"${name}"`;
}

function columnsOf(type: DocumentType): Column[] {
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
  );
  return columns;
}

function hasModified(type: DocumentType): boolean {
  return 'modified' in documentTypes[type].columns;
}

/** `ROW(cosmosTs, modified)` of a row alias: the version the guard compares. */
function versionOf(type: DocumentType, alias: string): string {
  return hasModified(type) ? `ROW(${alias}."cosmosTs", COALESCE(${alias}."modified", -1))` : `ROW(${alias}."cosmosTs")`;
}

/**
 * The version of a quarantine entry (alias of a `quarantine` row): `_ts`, then a numeric `modified` in
 * the stored document, -1 without one. Comparable with {@link writtenVersion}.
 */
export function quarantineVersion(alias: string): string {
  return `ROW(${alias}."cosmosTs", CASE WHEN jsonb_typeof(${alias}."document" -> 'modified') = 'number' THEN (${alias}."document" ->> 'modified')::numeric ELSE -1 END)`;
}

/** The same version for an input row: a type without a `modified` column may still carry one in `extra`. */
function writtenVersion(type: DocumentType, alias: string): string {
  const modified = hasModified(type)
    ? `COALESCE(${alias}."modified", -1)::numeric`
    : `CASE WHEN jsonb_typeof(${alias}."extra" -> 'modified') = 'number' THEN (${alias}."extra" ->> 'modified')::numeric ELSE -1 END`;
  return `ROW(${alias}."cosmosTs", ${modified})`;
}

/** SQL that is true when row `incoming` may replace row `current` (see the version order above). */
function guard(type: DocumentType, columns: Column[], incoming: string, current: string): string {
  const content = columns.filter((column) => !['id', 'pubkey', 'cosmosTs'].includes(column.name));
  const differs = `ROW(${content.map((c) => `${incoming}.${quote(c.name)}`).join(', ')}) IS DISTINCT FROM ROW(${content
    .map((c) => `${current}.${quote(c.name)}`)
    .join(', ')})`;
  const newer = `${versionOf(type, incoming)} > ${versionOf(type, current)}`;
  const tie = `${versionOf(type, incoming)} = ${versionOf(type, current)}`;
  if (documentTypes[type].key === 'pubkey') {
    return `(${newer} OR (${tie} AND CASE WHEN ${incoming}."id" = ${current}."id" THEN ${differs} ELSE ${incoming}."id" > ${current}."id" END))`;
  }
  return `(${incoming}."pubkey" = ${current}."pubkey" AND (${newer} OR (${tie} AND ${differs})))`;
}

function buildStatements(type: DocumentType): Statements {
  const descriptor = documentTypes[type];
  const table = quote(descriptor.table);
  const key = quote(descriptor.key);
  const byPubkey = descriptor.key === 'pubkey';
  const columns = columnsOf(type);
  const names = columns.map((c) => quote(c.name)).join(', ');
  const unnest = columns.map((c, index) => `$${index + 1}::${c.paramType}[]`).join(', ');
  const casts = columns.map((c) => (c.json ? `u.${quote(c.name)}::jsonb AS ${quote(c.name)}` : `u.${quote(c.name)}`)).join(', ');
  const input = `input AS MATERIALIZED (
  SELECT u."ord", ${casts}
  FROM unnest(${unnest}) WITH ORDINALITY AS u(${names}, "ord")
)`;
  // A pubkey-keyed table also has a unique id: a row whose id another pubkey holds is never inserted.
  // Lookups are LATERAL … LIMIT 1 so that each is an index probe: as plain joins the planner, with the
  // stale statistics of a table a migration is filling, picks hash joins that scan the whole table per chunk.
  const idOwner = `LEFT JOIN LATERAL (SELECT o."pubkey", o."cosmosTs" FROM ${table} o WHERE o."id" = i."id" AND o."pubkey" <> i."pubkey" LIMIT 1) o ON true`;
  const idFree = byPubkey ? `${idOwner} WHERE o."pubkey" IS NULL` : '';
  const updates = columns
    .filter((c) => c.name !== descriptor.key)
    .map((c) => `${quote(c.name)} = EXCLUDED.${quote(c.name)}`)
    .join(', ');
  const insert = (conflict: string) => `written AS (
  INSERT INTO ${table} AS cur (${names})
  SELECT ${columns.map((c) => `i.${quote(c.name)}`).join(', ')} FROM input i ${idFree}
  ${conflict}
  RETURNING cur.${key} AS "key"
),
-- A written document leaves the quarantine, unless the entry there is a newer version of it. Mapped rows
-- never hold U+0000, so their quarantine key is always "<pubkey>/<id>" (see quarantineKey).
cleared AS (
  DELETE FROM "quarantine" q USING input i, written w
  WHERE w."key" = i.${key} AND q."key" = i."pubkey" || '/' || i."id"
    AND ${quarantineVersion('q')} <= ${writtenVersion(type, 'i')}
)`;
  const select = (written: boolean) => `SELECT i."ord",
  ${written ? 'w."key" IS NOT NULL' : 'false'} AS "written",
  p."id" AS "prevId", p."pubkey" AS "prevPubkey", p."cosmosTs" AS "prevTs",
  COALESCE(${guard(type, columns, 'i', 'p')}, true) AS "mayReplace",
  ${byPubkey ? 'o."pubkey"' : 'NULL::text'} AS "idOwner",
  ${byPubkey ? 'o."cosmosTs"' : 'NULL::bigint'} AS "idOwnerTs",
  ${written && byPubkey ? 'CASE WHEN w."key" IS NOT NULL AND p."id" <> i."id" THEN to_jsonb(p) END' : 'NULL::jsonb'} AS "displaced"
FROM input i
${written ? `LEFT JOIN written w ON w."key" = i.${key}` : ''}
LEFT JOIN LATERAL (SELECT * FROM ${table} t WHERE t.${key} = i.${key} LIMIT 1) p ON true
${byPubkey ? idOwner : ''}
ORDER BY i."ord"`;
  const write = `ON CONFLICT (${key}) DO UPDATE SET ${updates}
  WHERE ${guard(type, columns, 'EXCLUDED', 'cur')}`;
  return {
    columns,
    // Locks the existing rows in key order before the upsert, so the upsert's snapshot sees their latest
    // committed versions (what the outcome and a displaced row are read from) and concurrent writers of
    // overlapping batches queue instead of deadlocking.
    lock: `SELECT 1 FROM ${table} WHERE ${key} = ANY($1::text[])${byPubkey ? ' OR "id" = ANY($2::text[])' : ''} ORDER BY ${key} FOR UPDATE`,
    upsert: {
      write: `WITH ${input},\n${insert(write)}\n${select(true)}`,
      skipExisting: `WITH ${input},\n${insert(`ON CONFLICT (${key}) DO NOTHING`)}\n${select(true)}`,
      classify: `WITH ${input}\n${select(false)}`,
    },
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

/** The key column's value of a row: its pubkey or its id, as the table is keyed. */
export function rowKey(type: DocumentType, row: Row): string {
  return documentTypes[type].key === 'pubkey' ? row.pubkey : row.id;
}

/**
 * Orders two rows of one table by the guard's version order: negative when `a` is older than `b`,
 * 0 when the versions are equal (and, for two documents of one pubkey, the ids too). Used to keep
 * the newest of duplicates inside one batch, exactly as applying them one by one would.
 */
export function compareVersions(type: DocumentType, a: Row, b: Row): number {
  if (a.cosmosTs !== b.cosmosTs) return a.cosmosTs - b.cosmosTs;
  if (hasModified(type)) {
    const difference = ((a.modified as number | null) ?? -1) - ((b.modified as number | null) ?? -1);
    if (difference !== 0) return difference;
  }
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** The array parameters for a chunk: one array per column, in statement order. */
function parametersOf(columns: Column[], rows: readonly Row[]): unknown[][] {
  return columns.map((column) =>
    rows.map((row) => {
      const value = row[column.name];
      if (value === null || value === undefined) return null;
      return column.json ? JSON.stringify(value) : value;
    }),
  );
}

interface OutcomeRecord {
  ord: bigint;
  written: boolean;
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
  db: SqlClient,
  type: DocumentType,
  rows: readonly Row[],
  options: UpsertOptions = {},
): Promise<RowOutcome[]> {
  if (rows.length === 0) return [];
  const statements = statementsFor(type);
  const byPubkey = documentTypes[type].key === 'pubkey';
  const kind: StatementKind = options.dryRun ? 'classify' : options.skipExisting ? 'skipExisting' : 'write';
  if (kind !== 'classify') {
    const lockParams: unknown[] = [rows.map((row) => rowKey(type, row))];
    if (byPubkey) lockParams.push(rows.map((row) => row.id));
    await db.$queryRawUnsafe(statements.lock, ...lockParams);
  }
  const records = await db.$queryRawUnsafe<OutcomeRecord[]>(statements.upsert[kind], ...parametersOf(statements.columns, rows));
  return records.map((record, index) => outcomeOf(rows[index] as Row, record, kind, options.skipExisting === true, byPubkey));
}

function outcomeOf(row: Row, record: OutcomeRecord, kind: StatementKind, skipExisting: boolean, byPubkey: boolean): RowOutcome {
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
  if (kind === 'classify') {
    if (!previous) return { outcome: 'written' };
    if (record.mayReplace) return sameDocument ? { outcome: 'written' } : { outcome: 'written', displaced: { ...previous } };
    return sameDocument ? { outcome: 'unchanged' } : { outcome: 'conflict', reason: 'newer-document-holds-pubkey', holder: previous };
  }
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
 * older version that arrives late (out of order) is stale, whatever else is wrong with it.
 */
export async function findNewerRows(db: SqlClient, type: DocumentType, refs: readonly VersionRef[]): Promise<Set<number>> {
  if (refs.length === 0) return new Set();
  const table = quote(documentTypes[type].table);
  const records = await db.$queryRawUnsafe<Array<{ ord: bigint }>>(
    `SELECT r."ord" FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS r("id", "pubkey", "cosmosTs", "ord")
     JOIN ${table} t ON t."id" = r."id" AND t."pubkey" = r."pubkey"
     WHERE t."cosmosTs" > r."cosmosTs"`,
    refs.map((ref) => ref.id),
    refs.map((ref) => ref.pubkey),
    refs.map((ref) => ref.cosmosTs),
  );
  return new Set(records.map((record) => Number(record.ord) - 1));
}
