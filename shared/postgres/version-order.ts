import { type DocumentType, documentTypeNames, documentTypes } from '../domain/document-types.js';
import { isSystemProperty, type Row } from '../domain/mapping.js';
import { quoteIdentifier } from './sql-identifier.js';

/**
 * THE version and identity rule of the write path, stated once. Which of two versions wins is decided in
 * PostgreSQL (the guard of the set-based write, the quarantine's upsert, deletes and tombstones) and in JS
 * (the planning of a batch, which keeps the newest copy of each document and orders competing documents
 * before the database sees them). Both are generated from the definitions in this file, so they cannot drift.
 *
 * 1. A version's TIME is made of the {@link timeFields}, most significant first: the source `_ts` (column
 *    `cosmosTs`, seconds), then `modified` (milliseconds) where the type has a `modified` column. A missing
 *    value is older than any other (-1). `account-settings` has no `modified`: two of its versions written
 *    within one second have equal times.
 * 2. Its POSITION is where the change feed delivered it (`_lsn`, column `cosmosLsn`), when it came through
 *    the change feed; a version read by a query or a point read has none. Within one logical partition the
 *    change feed delivers changes in the order they were made, so of two versions of ONE document that both
 *    have a position, the position decides ({@link compareVersions}). When only one has a position, only
 *    Cosmos's own `_ts` is compared: `modified` is the application's, and need not grow from version to
 *    version (a version may lack it), so it could put a stale read above the change feed's newer version.
 *    Without positions, the time decides.
 * 3. A row's PRECEDENCE is that order, then its id in code point order (`COLLATE "C"` in SQL, what
 *    {@link compareCodePoints} does in JS; the database's default collation, e.g. `en_US.utf8` on Azure,
 *    orders ids differently). Two different documents of one pubkey (a pubkey-keyed table holds one) are
 *    ordered by time, then id, so the same one ends in the table whatever the arrival order and however
 *    each was read.
 * 4. An incoming version REPLACES the current one ({@link mayReplaceSql}, {@link supersedes}) when its
 *    precedence is higher, or equal with different content, except that on a tie a version without a
 *    position never replaces one that has a position: it was read by a query or a point read, and whatever
 *    is newer than the stored version arrives through the ordered change feed anyway. Re-applying a version
 *    changes nothing ("unchanged"); of two contents under one version and no positions the last applied wins.
 * 5. IDENTITY: in a table keyed by id, a row never replaces another pubkey's row of that id, whatever the
 *    versions (here); in a pubkey-keyed table the write never inserts an id another pubkey's row holds (the
 *    id-owner lookup of `bulk-upsert.ts`).
 * 6. DELETES are versions too: a delete's position is its commit time (`crts`, seconds) and its change-feed
 *    position. A row is OLDER than a delete ({@link olderThanDeleteSql}) by positions when both have one,
 *    else by `_ts < crts`; a row whose `_ts` equals `crts` without both positions cannot be ordered against
 *    it ({@link tiedWithDeleteSql}), and only a read of the document's current state settles it. A version
 *    that a recorded delete (a tombstone) is not older than ({@link buriedSql}: positions, else `_ts <= crts`)
 *    is never written: it is the stale copy of a page read before the delete.
 *
 * 7. AWAITING COSMOS: a row the service wrote in PostgreSQL (as the primary database) and that Cosmos has not yet
 *    been seen holding ({@link awaitingCosmosSql}) outranks every version from Cosmos: none replaces it
 *    ({@link mayReplaceSql}) and no delete removes it ({@link olderThanDeleteSql}, {@link tiedWithDeleteSql}).
 *    Its time is the writer's clock, not Cosmos's, so rules 1 to 6 cannot order it against Cosmos's versions;
 *    the change feed's echo of the mirror's copy ends the wait and gives the row Cosmos's version
 *    (`sync/mirror-echoes.ts`), and a Cosmos version that meets a waiting row is a conflict, kept
 *    (`sync/diverged-changes.ts`).
 *
 * The quarantine keeps documents of any shape, even of no known type, so it orders DOCUMENT versions: the
 * same fields, each read from the document itself where it is a JSON number ({@link quarantineVersionSql},
 * {@link rowDocumentVersionSql}, {@link compareDocumentVersions}).
 */

interface TimeField {
  /** The document's field. */
  readonly field: string;
  /** The column of a mapped row that holds it. */
  readonly column: string;
  /** Whether every table has that column (a system property); otherwise only types that model the field. */
  readonly inEveryTable: boolean;
}

/** The fields a version's time is made of, most significant first. */
const timeFields: readonly TimeField[] = [
  { field: '_ts', column: 'cosmosTs', inEveryTable: true },
  { field: 'modified', column: 'modified', inEveryTable: false },
];

/** The value of a missing time field: older than any timestamp Cosmos or the application writes. */
const missing = -1;

/** Whether rows of `type` keep `field` in a column of its own. */
function hasColumn(type: DocumentType, field: TimeField): boolean {
  return field.inEveryTable || Object.hasOwn(documentTypes[type].columns, field.column);
}

/** The columns a row's time is read from, most significant first, by type. */
const rowTimeColumnsByType = new Map<DocumentType, readonly string[]>(
  documentTypeNames.map((type) => [type, timeFields.filter((field) => hasColumn(type, field)).map((field) => field.column)]),
);

function rowTimeColumns(type: DocumentType): readonly string[] {
  return rowTimeColumnsByType.get(type) ?? [];
}

/** The key column's value of a row: its pubkey or its id, as the table is keyed. */
export function rowKey(type: DocumentType, row: Row): string {
  return documentTypes[type].key === 'pubkey' ? row.pubkey : row.id;
}

/**
 * Compares two strings by Unicode code point, as PostgreSQL's `COLLATE "C"` compares UTF-8 bytes. (`<` on
 * JS strings compares UTF-16 code units, which puts U+10000 and above before U+E000–U+FFFF.)
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (U+D800–U+DFFF) above U+E000–U+FFFF, which is where the code points they encode sort. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  return unit >= 0xe000 ? unit - 0x800 : unit;
}

function timeValue(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : missing;
}

/** A version as both sides read it: its time, most significant part first, and its position (or null). */
interface Version {
  time: readonly number[];
  lsn: number | null;
}

function sign(x: number, y: number): number {
  return x === y ? 0 : x < y ? -1 : 1;
}

/**
 * Rule 2: positions decide between two versions of one document that both have one; the source `_ts` alone
 * when only one has a position; the whole time otherwise.
 */
function compareVersionParts(a: Version, b: Version, sameDocument: boolean): number {
  if (sameDocument && a.lsn !== null && b.lsn !== null) return sign(a.lsn, b.lsn);
  if (sameDocument && (a.lsn !== null || b.lsn !== null)) return sign(a.time[0] ?? missing, b.time[0] ?? missing);
  for (let i = 0; i < Math.max(a.time.length, b.time.length); i += 1) {
    const order = sign(a.time[i] ?? missing, b.time[i] ?? missing);
    if (order !== 0) return order;
  }
  return 0;
}

/** Rule 4 without the content: `incoming` ranks above `current`, or ties and does not lack a position `current` has. */
function replacesVersion(order: number, incoming: Version, current: Version): boolean {
  return order > 0 || (order === 0 && !(current.lsn !== null && incoming.lsn === null));
}

function rowVersion(type: DocumentType, row: Row): Version {
  return { time: rowTimeColumns(type).map((column) => timeValue(row[column])), lsn: row.cosmosLsn ?? null };
}

/**
 * Orders two rows of one table by precedence (rules 2 and 3): negative when `a` ranks below `b`, 0 when
 * they tie (the same version of one document, or the same time of two documents with one id). The JS twin
 * of {@link compareRowsSql}.
 */
export function compareVersions(type: DocumentType, a: Row, b: Row): number {
  const order = compareVersionParts(rowVersion(type, a), rowVersion(type, b), a.id === b.id && a.pubkey === b.pubkey);
  return order !== 0 ? order : compareCodePoints(a.id, b.id);
}

/**
 * Whether row `incoming` would replace row `current` of the same document (rule 4), content aside: applied
 * one after the other, the later of two equal copies stays, unless only the earlier has a position.
 */
export function supersedes(type: DocumentType, incoming: Row, current: Row): boolean {
  return replacesVersion(compareVersions(type, incoming, current), rowVersion(type, incoming), rowVersion(type, current));
}

/** SQL expressions for the parts of a version: each time field, the position (may be NULL), and the id. */
interface VersionSql {
  time: readonly string[];
  lsn: string;
  /** Set for table rows, whose precedence ends with the id. */
  id?: string;
}

function rowVersionSql(type: DocumentType, alias: string): VersionSql {
  return {
    time: rowTimeColumns(type).map((column) => `COALESCE(${alias}.${quoteIdentifier(column)}, ${missing})`),
    lsn: `${alias}."cosmosLsn"`,
    id: `${alias}."id"`,
  };
}

/** SQL: -1, 0 or 1 as `a` ranks below, with or above `b` (the SQL twin of {@link compareVersionParts}, then ids). */
function compareSql(a: VersionSql, b: VersionSql, sameDocument: string): string {
  const row = (v: VersionSql) => `ROW(${[...v.time, ...(v.id ? [`${v.id} COLLATE "C"`] : [])].join(', ')})`;
  const [ta, tb] = [a.time[0] as string, b.time[0] as string];
  return `(CASE WHEN ${sameDocument} AND ${a.lsn} IS NOT NULL AND ${b.lsn} IS NOT NULL
    THEN CASE WHEN ${a.lsn} > ${b.lsn} THEN 1 WHEN ${a.lsn} < ${b.lsn} THEN -1 ELSE 0 END
    WHEN ${sameDocument} AND (${a.lsn} IS NOT NULL OR ${b.lsn} IS NOT NULL)
    THEN CASE WHEN ${ta} > ${tb} THEN 1 WHEN ${ta} < ${tb} THEN -1 ELSE 0 END
    ELSE CASE WHEN ${row(a)} > ${row(b)} THEN 1 WHEN ${row(a)} < ${row(b)} THEN -1 ELSE 0 END END)`;
}

/** SQL: rule 4 without the content, the twin of {@link replacesVersion}. */
function replacesSql(order: string, incoming: VersionSql, current: VersionSql): string {
  return `(${order} > 0 OR (${order} = 0 AND NOT (${current.lsn} IS NOT NULL AND ${incoming.lsn} IS NULL)))`;
}

/** SQL: the precedence order (-1, 0, 1) of rows `a` and `b` of `type`; the twin of {@link compareVersions}. */
export function compareRowsSql(type: DocumentType, a: string, b: string): string {
  return compareSql(rowVersionSql(type, a), rowVersionSql(type, b), `(${a}."id" = ${b}."id" AND ${a}."pubkey" = ${b}."pubkey")`);
}

/**
 * SQL that is true when row `incoming` may replace row `current` of the same key (rules 4 and 5).
 * `contentColumns` are those whose difference makes an equal version a new one.
 */
export function mayReplaceSql(type: DocumentType, incoming: string, current: string, contentColumns: readonly string[]): string {
  const content = (alias: string) => `ROW(${contentColumns.map((column) => `${alias}.${quoteIdentifier(column)}`).join(', ')})`;
  const mine = rowVersionSql(type, incoming);
  const theirs = rowVersionSql(type, current);
  const order = compareRowsSql(type, incoming, current);
  const replaces = `(${order} > 0 OR (${order} = 0 AND NOT (${theirs.lsn} IS NOT NULL AND ${mine.lsn} IS NULL)
    AND ${content(incoming)} IS DISTINCT FROM ${content(current)}))`;
  const confirmed = `NOT ${awaitingCosmosSql(current)}`;
  return documentTypes[type].key === 'pubkey'
    ? `(${confirmed} AND ${replaces})`
    : `(${confirmed} AND ${incoming}."pubkey" = ${current}."pubkey" AND ${replaces})`;
}

/** SQL (rule 7): table row `row` was written in PostgreSQL and Cosmos has not been seen holding it yet. */
export function awaitingCosmosSql(row: string): string {
  return `(${row}."awaitingCosmos" IS NOT NULL)`;
}

/** SQL: `field` of the JSONB value `json` as a number, or the missing value when it is not a JSON number. */
function jsonNumberSql(json: string, field: string): string {
  // A fixed name from this file, so it may be spelled as a literal.
  const name = `'${field}'`;
  return `CASE WHEN jsonb_typeof(${json} -> ${name}) = 'number' THEN (${json} ->> ${name})::numeric ELSE ${missing} END`;
}

/** SQL: the `_lsn` of the JSONB document `json` when it is a position Cosmos gives (see `isSystemProperty`), else NULL. */
function jsonPositionSql(json: string): string {
  const value = `(${json} ->> '_lsn')::numeric`;
  return `CASE WHEN jsonb_typeof(${json} -> '_lsn') = 'number' AND ${value} >= 0 AND ${value} = trunc(${value})
    AND ${value} <= ${Number.MAX_SAFE_INTEGER} THEN ${value} END`;
}

/** SQL: the document version of the quarantine entry `alias` (its `_ts` is its "cosmosTs" column). */
function quarantineVersion(alias: string): VersionSql {
  const document = `${alias}."document"`;
  return {
    time: timeFields.map((field) =>
      field.inEveryTable ? `${alias}.${quoteIdentifier(field.column)}` : jsonNumberSql(document, field.field),
    ),
    lsn: jsonPositionSql(document),
  };
}

/** SQL: the document version of the mapped row `alias` of `type`: a field the type does not model is read from its `extra`. */
function rowDocumentVersion(type: DocumentType, alias: string): VersionSql {
  return {
    time: timeFields.map((field) => {
      const column = `${alias}.${quoteIdentifier(field.column)}`;
      if (field.inEveryTable) return column;
      return hasColumn(type, field) ? `COALESCE(${column}, ${missing})::numeric` : jsonNumberSql(`${alias}."extra"`, field.field);
    }),
    lsn: `${alias}."cosmosLsn"`,
  };
}

/** SQL: the order (-1, 0, 1) of two quarantine entries' versions (`a`, `b`: aliases of entries of one key). */
export function compareQuarantineSql(a: string, b: string): string {
  return compareSql(quarantineVersion(a), quarantineVersion(b), 'true');
}

/** SQL: whether quarantine entry `incoming` replaces entry `current` of the same key (rule 4, content aside). */
export function quarantineSupersedesSql(incoming: string, current: string): string {
  return replacesSql(compareQuarantineSql(incoming, current), quarantineVersion(incoming), quarantineVersion(current));
}

/**
 * SQL: the order (-1, 0, 1) of quarantine entry `entry` against mapped row `row` of `type`: by document version,
 * one document's versions unless `sameDocument` (SQL) says otherwise (a competitor against the row it wants).
 */
export function compareEntryWithRowSql(type: DocumentType, entry: string, row: string, sameDocument = 'true'): string {
  return compareSql(quarantineVersion(entry), rowDocumentVersion(type, row), sameDocument);
}

/**
 * SQL: whether the quarantine entry `entry` holds a version that the row `row` just written does not
 * supersede, so the entry stays (a newer, unmappable version of the document is still unaccounted for).
 */
export function entryOutlivesRowSql(type: DocumentType, entry: string, row: string): string {
  return `NOT ${replacesSql(`(-${compareEntryWithRowSql(type, entry, row)})`, rowDocumentVersion(type, row), quarantineVersion(entry))}`;
}

/** What a document version is read from in JS: the `_ts` as stored (0 when it had none) and the document. */
export interface VersionedDocument {
  cosmosTs: number;
  document: unknown;
}

function documentField(document: unknown, field: string): unknown {
  return document !== null && typeof document === 'object' && !Array.isArray(document)
    ? (document as Record<string, unknown>)[field]
    : undefined;
}

function documentVersion({ cosmosTs, document }: VersionedDocument): Version {
  const lsn = documentField(document, '_lsn');
  return {
    time: timeFields.map((field) => (field.inEveryTable ? cosmosTs : timeValue(documentField(document, field.field)))),
    lsn: isSystemProperty('_lsn', lsn) ? (lsn as number) : null,
  };
}

/** Orders two versions of one document by document version; the JS twin of {@link compareQuarantineSql}. */
export function compareDocumentVersions(a: VersionedDocument, b: VersionedDocument): number {
  return compareVersionParts(documentVersion(a), documentVersion(b), true);
}

/** Whether document version `incoming` replaces `current` (rule 4, content aside); the twin of {@link quarantineSupersedesSql}. */
export function documentSupersedes(incoming: VersionedDocument, current: VersionedDocument): boolean {
  return replacesVersion(compareDocumentVersions(incoming, current), documentVersion(incoming), documentVersion(current));
}

/** SQL parts of a recorded or incoming delete: commit time (seconds) and change-feed position (may be NULL). */
export interface DeleteSql {
  ts: string;
  lsn: string;
}

function bothPositioned(row: string, deleted: DeleteSql): string {
  return `${row}."cosmosLsn" IS NOT NULL AND ${deleted.lsn} IS NOT NULL`;
}

/** SQL (rules 6 and 7): table row `row` is older than the delete, so the delete removes it. */
export function olderThanDeleteSql(row: string, deleted: DeleteSql): string {
  return `(NOT ${awaitingCosmosSql(row)} AND CASE WHEN ${bothPositioned(row, deleted)} THEN ${row}."cosmosLsn" < ${deleted.lsn}
    ELSE ${row}."cosmosTs" < ${deleted.ts} END)`;
}

/** SQL (rules 6 and 7): table row `row` cannot be ordered against the delete: the same second, and not both positions. */
export function tiedWithDeleteSql(row: string, deleted: DeleteSql): string {
  return `(NOT ${awaitingCosmosSql(row)} AND NOT (${bothPositioned(row, deleted)}) AND ${row}."cosmosTs" = ${deleted.ts})`;
}

/** SQL (rules 6 and 7): the delete read back from Cosmos (the document is gone) removes table row `row`: not newer than it. */
export function goneSinceSql(row: string, deleted: DeleteSql): string {
  return `(NOT ${awaitingCosmosSql(row)} AND ${buriedSql(row, deleted)})`;
}

/** SQL (rule 6): the recorded delete is not older than version `row` (positions, else `_ts <= crts`): never write it. */
export function buriedSql(row: string, tombstone: DeleteSql): string {
  return `(CASE WHEN ${bothPositioned(row, tombstone)} THEN ${row}."cosmosLsn" <= ${tombstone.lsn}
    ELSE ${row}."cosmosTs" <= ${tombstone.ts} END)`;
}

/** SQL (rule 6): the delete is not older than the version the quarantine entry `entry` holds, which it therefore removes. */
export function entryBuriedSql(entry: string, deleted: DeleteSql): string {
  const version = quarantineVersion(entry);
  return `(CASE WHEN ${version.lsn} IS NOT NULL AND ${deleted.lsn} IS NOT NULL THEN ${version.lsn} <= ${deleted.lsn}
    ELSE ${entry}."cosmosTs" <= ${deleted.ts} END)`;
}
