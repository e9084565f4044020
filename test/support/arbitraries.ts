import fc from 'fast-check';
import { z } from 'zod';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import type { ColumnKind } from '../../shared/domain/fields.js';
import { systemProperties } from '../../shared/domain/mapping.js';

/**
 * fast-check arbitraries for Cosmos documents, derived from the descriptors in
 * `shared/domain/document-types.ts`, so a field added to a schema is generated without touching
 * this file. Documents come out as Cosmos hands them over: parsed JSON, with optional fields
 * absent, null or set, unmodeled fields of any JSON shape, and system properties now and then.
 */

export type JsonDocument = Record<string, unknown>;

/** A document of `type` with one required field broken, and the field's name. */
export interface InvalidDocumentCase {
  document: JsonDocument;
  field: string;
}

const absent = Symbol('absent');
const systemPropertyNames = new Set<string>(systemProperties);
const hexDigit = fc.constantFrom(...Array.from('0123456789abcdefABCDEF'));
const jsonValue = fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' });
/** Keys that break naive `key in object` checks and plain-object assignment. */
const prototypeKeys = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

function fieldSchema(type: DocumentType, field: string): z.ZodType {
  const schema = (documentTypes[type].schema.shape as Record<string, z.ZodType | undefined>)[field];
  if (!schema) throw new Error(`${type} has no field ${field}`);
  return schema;
}

/** Whether the schema accepts the field being absent. */
export function isOptional(type: DocumentType, field: string): boolean {
  return fieldSchema(type, field).safeParse(undefined).success;
}

/** Every field a valid document of `type` must have (`id`, `pubkey` and `type` among them). */
export function requiredFields(type: DocumentType): string[] {
  return Object.keys(documentTypes[type].schema.shape).filter((field) => !isOptional(type, field));
}

function innerSchema(schema: z.ZodType): z.ZodType {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** The values an enum or literal field allows; undefined for any other field. */
function allowedValues(schema: z.ZodType): unknown[] | undefined {
  const inner = innerSchema(schema);
  if (inner instanceof z.ZodEnum) return inner.options;
  if (inner instanceof z.ZodLiteral) return [...inner.values];
  return undefined;
}

function jsonObject(): fc.Arbitrary<Record<string, unknown>> {
  return fc.dictionary(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constantFrom(...prototypeKeys)), jsonValue, {
    maxKeys: 5,
    noNullPrototype: true,
  });
}

const msFrom2023To2026 = fc.integer({ min: Date.UTC(2023, 0, 1), max: Date.UTC(2026, 11, 31) });

function valueOfKind(kind: ColumnKind, schema: z.ZodType): fc.Arbitrary<unknown> {
  switch (kind) {
    case 'text':
      return fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 12 }));
    case 'int':
      return fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, 2 ** 31 - 1, -(2 ** 31)));
    case 'bigint':
      return fc.oneof(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom(2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
        fc.maxSafeInteger(),
      );
    case 'timestamp':
      return fc.oneof({ weight: 4, arbitrary: msFrom2023To2026 }, { weight: 1, arbitrary: fc.maxSafeNat() });
    case 'boolean':
      return fc.boolean();
    case 'json':
      // An array is a JSON value but not a JSON object: what the field's schema accepts tells the two apart.
      return innerSchema(schema).safeParse([]).success ? jsonValue : jsonObject();
  }
}

function idArbitrary(type: DocumentType): fc.Arbitrary<string> {
  const realistic = fc.uuid({ version: 4 }).map((uuid) => (type === 'backup-job' ? uuid : `${type}-${uuid}`));
  return fc.oneof(realistic, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }));
}

const pubkeyArbitrary = fc.string({ unit: hexDigit, minLength: 64, maxLength: 64 });

/** A valid value for one modeled field (schema-checked, so refinements like int32 hold). */
function validValue(type: DocumentType, field: string): fc.Arbitrary<unknown> {
  const schema = fieldSchema(type, field);
  const allowed = allowedValues(schema);
  if (allowed) return fc.constantFrom(...allowed);
  if (field === 'id') return idArbitrary(type).filter((id) => schema.safeParse(id).success);
  if (field === 'pubkey') return pubkeyArbitrary;
  const columns: Readonly<Record<string, ColumnKind>> = documentTypes[type].columns;
  const kind = columns[field];
  if (!kind) throw new Error(`${type}.${field} has neither a column kind nor allowed values`);
  return valueOfKind(kind, schema).filter((value) => schema.safeParse(value).success);
}

function extraFields(type: DocumentType): fc.Arbitrary<Record<string, unknown>> {
  const modeled = documentTypes[type].schema.shape;
  const key = fc
    .oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom(...prototypeKeys, 'updated', 'Type', 'ID', '_private', '$meta'))
    .filter((name) => !Object.hasOwn(modeled, name) && !systemPropertyNames.has(name));
  return fc.dictionary(key, jsonValue, { maxKeys: 4, noNullPrototype: true });
}

const cosmosSystemProperties = fc.record(
  {
    _rid: fc.string({
      unit: fc.constantFrom(...Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=')),
      minLength: 16,
      maxLength: 24,
    }),
    _self: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }).map((rid) => `dbs/AAAA==/colls/AAAAAA==/docs/${rid}/`),
    _etag: fc.uuid().map((uuid) => `"${uuid}"`),
    _attachments: fc.constant('attachments/'),
    _ts: fc.integer({ min: 1_672_531_200, max: 1_798_761_600 }),
    _lsn: fc.nat(),
  },
  { requiredKeys: [] },
);

/** Any JSON-representable document of `type`, as it would arrive from Cosmos DB. */
export function arbitraryDocument(type: DocumentType): fc.Arbitrary<JsonDocument> {
  const fields = Object.keys(documentTypes[type].schema.shape);
  const values = fields.map((field) =>
    isOptional(type, field) ? fc.oneof(fc.constant(absent), fc.constant(null), validValue(type, field)) : validValue(type, field),
  );
  return fc.tuple(fc.tuple(...values), extraFields(type), cosmosSystemProperties).map(([modeled, extra, system]) => {
    const document: JsonDocument = Object.fromEntries(fields.flatMap((field, i) => (modeled[i] === absent ? [] : [[field, modeled[i]]])));
    return asCosmosJson({ ...document, ...extra, ...system });
  });
}

/** A document of any of the seven types. */
export function arbitraryAnyDocument(): fc.Arbitrary<JsonDocument> {
  return fc.oneof(...documentTypeNames.map((type) => arbitraryDocument(type)));
}

/**
 * A valid document of `type` with one required field removed or given a value its schema refuses
 * (`type` is never replaced by another known type, which would make a different, valid kind).
 */
export function arbitraryInvalidDocument(type: DocumentType): fc.Arbitrary<InvalidDocumentCase> {
  return fc.tuple(arbitraryDocument(type), fc.constantFrom(...requiredFields(type))).chain(([document, field]) =>
    invalidValue(type, field).map((value) => {
      const broken: JsonDocument = { ...document };
      if (value === absent) delete broken[field];
      else broken[field] = value;
      return { document: broken, field };
    }),
  );
}

function invalidValue(type: DocumentType, field: string): fc.Arbitrary<unknown> {
  const schema = fieldSchema(type, field);
  return fc
    .oneof(
      fc.constant(absent),
      fc.constant(null),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      jsonValue,
    )
    .map((value) => (value === absent ? value : asCosmosJson(value)))
    .filter((value) => {
      if (value === absent) return true;
      if (field === 'type' && documentTypeOf(value) !== undefined) return false;
      return !schema.safeParse(value).success;
    });
}

/** What Cosmos would hand back: JSON text parsed, so prototypes are plain and -0 is 0. */
function asCosmosJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The fields a mapping reason names, read from its `<type>: <field>: <message>; ...` form (an
 * unknown or missing type names `type`). Lets tests check a reason points at the broken field.
 */
export function reasonFields(reason: string): string[] {
  if (reason.startsWith('unknown document type')) return ['type'];
  const issues = reason.slice(reason.indexOf(': ') + 2).split('; ');
  return [...new Set(issues.map((issue) => issue.slice(0, issue.indexOf(': '))))].sort();
}
