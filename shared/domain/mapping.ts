import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { describeIssues } from '../core/describe-issues.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from './document-types.js';
import type { ColumnKind, JsonValue } from './fields.js';
import { isMirrorMarkerValue, mirrorMarkerField } from './mirror-marker.js';
import { compileObjectCheck, type ObjectCheck } from './object-check.js';
import { describeUnstorable, findUnstorable } from './storable-json.js';

/**
 * Cosmos document <-> PostgreSQL row. Lossless for everything a document says:
 * - modeled fields become columns of the same name;
 * - fields the model does not name go to the `extra` JSONB column and come back unchanged;
 * - `_ts`, `_etag` and `_lsn` are kept as `cosmosTs`/`cosmosEtag`/`cosmosLsn` (the version the row was
 *   copied from, and its position in the change feed when it came through it); the other system
 *   properties are Cosmos's own and are not carried.
 * The one normalisation: a modeled optional field that is `null` and one that is absent both
 * become SQL NULL and come back absent. `normalizeDocument` states that rule for verification.
 */

/**
 * The properties Cosmos itself puts on a document. `_rid`, `_self`, `_etag`, `_attachments` and `_ts` are
 * system-generated on every write ("Documents", Azure Cosmos DB REST API reference: user content is
 * everything else), and `_lsn` is the position the change feed adds to each item it delivers. A field of one
 * of these names holding what Cosmos would never put there (an object, a negative number) is the user's
 * own data and is kept like any other field ({@link isSystemProperty}).
 */
export const systemProperties = ['_rid', '_self', '_etag', '_attachments', '_ts', '_lsn'] as const;

const isText = (value: unknown) => typeof value === 'string';
const isPosition = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * What Cosmos gives under each system property: strings, and whole seconds or sequence numbers. The mirror's
 * mark (`mirror-marker.ts`) is treated the same way: put there by this project, never the user's data.
 */
const systemValueShapes: Readonly<Record<string, (value: unknown) => boolean>> = {
  _rid: isText,
  _self: isText,
  _etag: isText,
  _attachments: isText,
  _ts: isPosition,
  _lsn: isPosition,
  [mirrorMarkerField]: isMirrorMarkerValue,
};

/**
 * Whether `key: value` is a property Cosmos (or the mirror, for its mark) put there, dropped or kept as a
 * version column, not user data.
 */
export function isSystemProperty(key: string, value: unknown): boolean {
  return Object.hasOwn(systemValueShapes, key) && (systemValueShapes[key] as (value: unknown) => boolean)(value);
}

export type CosmosDocument = { id: string; pubkey: string; type: string } & Record<string, unknown>;

/** A table row as the mapping produces it: column name -> value. Timestamps are numbers here. */
export type Row = Record<string, unknown> & {
  id: string;
  pubkey: string;
  extra: Record<string, JsonValue>;
  cosmosTs: number;
  cosmosEtag: string | null;
  /** The change feed's position of this version (`_lsn`); null when it was read any other way. */
  cosmosLsn: number | null;
};

/**
 * What the mapping checks each type's documents with, and fills its columns from. The row is built from the
 * source, so zod's output is never used: a document is first asked of `fast` (a check compiled from the schema,
 * building nothing: `object-check.ts`), and only one it does not accept goes through zod's parse, for the verdict
 * and the reason. That parse strips the fields the loose schema does not name rather than copying them into an
 * output thrown away: the same verdict (a loose schema's catchall accepts anything).
 */
interface TypeCheck {
  schema: z.ZodObject;
  fast: ObjectCheck | undefined;
  columns: readonly string[];
}

const checks = new Map<DocumentType, TypeCheck>(
  documentTypeNames.map((type) => {
    const descriptor = documentTypes[type];
    const schema = descriptor.schema as z.ZodObject;
    return [type, { schema: schema.strip(), fast: compileObjectCheck(schema), columns: Object.keys(descriptor.columns) }];
  }),
);

export type MapResult = { ok: true; type: DocumentType; row: Row } | { ok: false; type?: DocumentType; reason: string };

/** Maps one source document to its row, or says exactly why it cannot be mapped. */
export function documentToRow(document: unknown): MapResult {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const source = document as Record<string, unknown>;
  // Before the schema: zod recurses per level of nesting, and what PostgreSQL cannot hold must never reach it.
  const unstorable = findUnstorable(source);
  const type = documentTypeOf(source.type);
  if (unstorable) return { ok: false, type, reason: `${type ?? 'document'}: ${describeUnstorable(unstorable)}` };
  if (!type) return { ok: false, reason: `unknown document type ${describeTypeValue(source.type)}` };
  const descriptor = documentTypes[type];
  const check = checks.get(type) as TypeCheck;
  if (check.fast?.accepts(source) !== true) {
    const parsed = check.schema.safeParse(source);
    if (!parsed.success) return { ok: false, type, reason: `${type}: ${describeIssues(parsed.error, '(document)').join('; ')}` };
  }
  // Values are read from the validated source, never from a zod output: zod rebuilds JSON objects and drops
  // `__proto__` keys inside them.
  const row: Row = {
    id: source.id as string,
    pubkey: source.pubkey as string,
    extra: extraFields(source, descriptor.schema.shape),
    cosmosTs: isSystemProperty('_ts', source._ts) ? (source._ts as number) : 0,
    cosmosEtag: isSystemProperty('_etag', source._etag) ? (source._etag as string) : null,
    cosmosLsn: isSystemProperty('_lsn', source._lsn) ? (source._lsn as number) : null,
  };
  if (descriptor.storesType) row.type = source.type;
  for (const column of check.columns) {
    row[column] = source[column] ?? null;
  }
  return { ok: true, type, row };
}

/** The fields of `source` that `modeled` does not name and Cosmos did not add: what the `extra` column keeps. */
function extraFields(source: Record<string, unknown>, modeled: object): Record<string, JsonValue> {
  const extra: Record<string, JsonValue> = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    // `Object.hasOwn`, not `in`: an unmodeled field named `constructor` or `toString` is still data.
    if (value === undefined || Object.hasOwn(modeled, key) || isSystemProperty(key, value)) continue;
    // Assigning `__proto__` would set the prototype; defining it keeps the field as data.
    if (key === '__proto__') Object.defineProperty(extra, key, { value, enumerable: true, writable: true, configurable: true });
    else extra[key] = value as JsonValue;
  }
  return extra;
}

/**
 * An unknown `type` as a reason may show it: by its length and a short hash, never its text (it is field
 * content, and can be anything up to megabytes long).
 */
function describeTypeValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  if (typeof value !== 'string') return `(not a string: ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`;
  return `(${value.length} characters, sha256 ${createHash('sha256').update(value).digest('hex').slice(0, 12)})`;
}

/** Rebuilds the Cosmos-shaped document from a row, whatever driver produced it (bigint, string or number). */
export function rowToDocument(type: DocumentType, row: Record<string, unknown>): CosmosDocument {
  const descriptor = documentTypes[type];
  const document: CosmosDocument = {
    ...(row.extra as Record<string, unknown> | null | undefined),
    id: String(row.id),
    pubkey: String(row.pubkey),
    type: descriptor.storesType && typeof row.type === 'string' ? row.type : descriptor.type,
  };
  for (const [column, kind] of Object.entries(descriptor.columns)) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    document[column] = fromColumn(kind, value);
  }
  return document;
}

function fromColumn(kind: ColumnKind, value: unknown): unknown {
  switch (kind) {
    case 'timestamp':
    case 'bigint':
    case 'int':
      return typeof value === 'number' ? value : Number(value);
    default:
      return value;
  }
}

/**
 * The document as the mapping keeps it: system properties removed, modeled optional fields that
 * are null removed. `rowToDocument(documentToRow(d))` equals `normalizeDocument(d)` for every valid d.
 */
export function normalizeDocument(document: Record<string, unknown>): Record<string, unknown> {
  const type = documentTypeOf(document.type);
  const modeled = type ? documentTypes[type].columns : {};
  return Object.fromEntries(
    Object.entries(document).filter(
      ([key, value]) => !isSystemProperty(key, value) && value !== undefined && !(value === null && Object.hasOwn(modeled, key)),
    ),
  );
}
