import { type DocumentType, documentTypeNames, documentTypes } from '../domain/document-types.js';
import type { Row } from '../domain/mapping.js';
import { quoteIdentifier } from './sql-identifier.js';

/**
 * THE version and identity rule of the write path, stated once. Which of two rows of one table wins is
 * decided in two places, and both are generated from the definitions in this file so that they cannot
 * drift: in PostgreSQL by the guard of the set-based write ({@link mayReplaceSql}, in `bulk-upsert.ts`),
 * and in JS by the planning of a batch ({@link compareVersions}, in `write-path/plan-documents.ts`), which
 * keeps the newest copy of each document and orders competing documents before the database sees them.
 *
 * 1. A row's VERSION is made of the {@link versionFields}, most significant first: the source `_ts`
 *    (column `cosmosTs`, seconds), then `modified` (milliseconds) where the type has a `modified` column.
 *    A missing value is older than any other (-1). `account-settings` has no `modified`: two of its
 *    versions written within one second cannot be ordered, and tie (see 3).
 * 2. A row's PRECEDENCE is its version, then its id in code point order: `COLLATE "C"` in SQL, which is
 *    what {@link compareCodePoints} does in JS (the database's default collation, e.g. `en_US.utf8` on
 *    Azure, orders ids differently). Two versions of one document share their id, so for them precedence
 *    is the version alone; in a pubkey-keyed table (one document per user) two different documents of one
 *    pubkey are ordered by version, then id, so the same one ends in the table whatever the arrival order.
 * 3. An incoming row REPLACES the current one when its precedence is higher, or equal with different
 *    content: re-applying a version changes nothing ("unchanged"), and of two contents under one version
 *    the last applied wins. Whoever re-reads the source (a resumed run, the incremental catch-up,
 *    verification's repair) applies the latest version last, so this converges.
 * 4. IDENTITY: in a table keyed by id, a row never replaces another pubkey's row of that id, whatever the
 *    versions (here); in a pubkey-keyed table the write never inserts an id another pubkey's row holds
 *    (the id-owner lookup of `bulk-upsert.ts`).
 *
 * The quarantine keeps documents of any shape, even of no known type, so it orders DOCUMENT versions: the
 * same {@link versionFields}, each read from the document itself where it is a JSON number
 * ({@link quarantineVersionSql}, {@link rowDocumentVersionSql}, {@link compareDocumentVersions}).
 */

interface VersionField {
  /** The document's field. */
  readonly field: string;
  /** The column of a mapped row that holds it. */
  readonly column: string;
  /** Whether every table has that column (a system property); otherwise only types that model the field. */
  readonly inEveryTable: boolean;
}

/** The fields a version is made of, most significant first. */
const versionFields: readonly VersionField[] = [
  { field: '_ts', column: 'cosmosTs', inEveryTable: true },
  { field: 'modified', column: 'modified', inEveryTable: false },
];

/** The value of a missing version field: older than any timestamp Cosmos or the application writes. */
const missing = -1;

/** Whether rows of `type` keep `field` in a column of its own. */
function hasColumn(type: DocumentType, field: VersionField): boolean {
  return field.inEveryTable || Object.hasOwn(documentTypes[type].columns, field.column);
}

/** The columns a row's version is read from, most significant first, by type. */
const rowVersionColumnsByType = new Map<DocumentType, readonly string[]>(
  documentTypeNames.map((type) => [type, versionFields.filter((field) => hasColumn(type, field)).map((field) => field.column)]),
);

function rowVersionColumns(type: DocumentType): readonly string[] {
  return rowVersionColumnsByType.get(type) ?? [];
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

function versionValue(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : missing;
}

/**
 * Orders two rows of one table by precedence (rule 2): negative when `a` ranks below `b`, 0 when their
 * versions and ids are equal. The JS twin of {@link precedenceSql}.
 */
export function compareVersions(type: DocumentType, a: Row, b: Row): number {
  for (const column of rowVersionColumns(type)) {
    const x = versionValue(a[column]);
    const y = versionValue(b[column]);
    if (x !== y) return x < y ? -1 : 1;
  }
  return compareCodePoints(a.id, b.id);
}

/** SQL: the precedence (rule 2) of the row `alias` of `type`, a row value to compare with another's. */
export function precedenceSql(type: DocumentType, alias: string): string {
  const version = rowVersionColumns(type).map((column) => `COALESCE(${alias}.${quoteIdentifier(column)}, ${missing})`);
  return `ROW(${[...version, `${alias}."id" COLLATE "C"`].join(', ')})`;
}

/**
 * SQL that is true when row `incoming` may replace row `current` of the same key (rules 3 and 4).
 * `contentColumns` are those whose difference makes an equal version a new one.
 */
export function mayReplaceSql(type: DocumentType, incoming: string, current: string, contentColumns: readonly string[]): string {
  const content = (alias: string) => `ROW(${contentColumns.map((column) => `${alias}.${quoteIdentifier(column)}`).join(', ')})`;
  const mine = precedenceSql(type, incoming);
  const theirs = precedenceSql(type, current);
  const replaces = `(${mine} > ${theirs} OR (${mine} = ${theirs} AND ${content(incoming)} IS DISTINCT FROM ${content(current)}))`;
  return documentTypes[type].key === 'pubkey' ? replaces : `(${incoming}."pubkey" = ${current}."pubkey" AND ${replaces})`;
}

/** SQL: `field` of the JSONB value `json` as a number, or the missing value when it is not a JSON number. */
function jsonNumberSql(json: string, field: VersionField): string {
  // A fixed name from `versionFields`, so it may be spelled as a literal.
  const name = `'${field.field}'`;
  return `CASE WHEN jsonb_typeof(${json} -> ${name}) = 'number' THEN (${json} ->> ${name})::numeric ELSE ${missing} END`;
}

/** SQL: the document version of the quarantine entry `alias` (its `_ts` is its "cosmosTs" column). */
export function quarantineVersionSql(alias: string): string {
  const parts = versionFields.map((field) =>
    field.inEveryTable ? `${alias}.${quoteIdentifier(field.column)}` : jsonNumberSql(`${alias}."document"`, field),
  );
  return `ROW(${parts.join(', ')})`;
}

/**
 * SQL: the document version of the mapped row `alias` of `type`, comparable with
 * {@link quarantineVersionSql}: a field the type does not model is read from its `extra`.
 */
export function rowDocumentVersionSql(type: DocumentType, alias: string): string {
  const parts = versionFields.map((field) => {
    const column = `${alias}.${quoteIdentifier(field.column)}`;
    if (field.inEveryTable) return column;
    return hasColumn(type, field) ? `COALESCE(${column}, ${missing})::numeric` : jsonNumberSql(`${alias}."extra"`, field);
  });
  return `ROW(${parts.join(', ')})`;
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

/** Orders two documents by document version; the JS twin of {@link quarantineVersionSql}. */
export function compareDocumentVersions(a: VersionedDocument, b: VersionedDocument): number {
  for (const field of versionFields) {
    const x = field.inEveryTable ? a.cosmosTs : versionValue(documentField(a.document, field.field));
    const y = field.inEveryTable ? b.cosmosTs : versionValue(documentField(b.document, field.field));
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
