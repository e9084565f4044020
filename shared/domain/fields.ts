import { z } from 'zod';

/**
 * Field builders shared by the seven document schemas. Optional fields accept `null` as well as
 * absence, because real documents carry both; the mapping stores both as SQL NULL and gives back
 * an absent field (see `mapping.ts`), and verification compares them the same way.
 */

export const pubkey = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected a 64-character hex public key');
/** Cosmos DB limits an item id to 1,023 bytes ("Service quotas and default limits", per-item limits). */
export const maxIdBytes = 1023;
export const documentId = z
  .string()
  .min(1, 'expected a non-empty id')
  // A UTF-16 unit is at most 3 bytes of UTF-8, so a short id needs no count: almost every id, on every write.
  .refine(
    (id) => id.length * 3 <= maxIdBytes || Buffer.byteLength(id, 'utf8') <= maxIdBytes,
    `expected an id of at most ${maxIdBytes} bytes`,
  );

/** Milliseconds since the epoch, stored as BIGINT. */
export const timestamp = z.number().int('expected whole milliseconds since the epoch');
export const int32 = z.number().int().min(-2147483648).max(2147483647);
export const int64 = z.number().int();
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An object as JSON makes it: no prototype but Object's (or none), so not a Date, a Map or a class instance. */
function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Whether `value` is JSON through and through: strings, finite numbers, booleans, null, and arrays and plain
 * objects of those. What `z.json()` accepts, checked by one walk with its own stack (no recursion, so no depth
 * can overflow it) instead of zod's recursive union, which costs a union attempt and a memo entry per nested
 * value: about a quarter of all validation on the write path (issue 15).
 */
export function isJsonValue(value: unknown): value is JsonValue {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (current === null || typeof current === 'string' || typeof current === 'boolean') continue;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return false;
      continue;
    }
    if (typeof current !== 'object') return false;
    if (Array.isArray(current)) {
      // Indexed, not iterated: a hole in a sparse array is no JSON value, and `for…of` would hide it as undefined.
      for (let index = 0; index < current.length; index += 1) {
        if (!Object.hasOwn(current, index)) return false;
        pending.push(current[index]);
      }
      continue;
    }
    if (!isPlainObject(current)) return false;
    for (const key of Object.keys(current)) pending.push((current as Record<string, unknown>)[key]);
  }
  return true;
}

/** Any JSON object (nested objects are stored whole as JSONB, so their inner shape is not policed). */
export const jsonObject = z.custom<{ [key: string]: JsonValue }>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && isJsonValue(value),
  'expected a JSON object',
);
export const jsonValue = z.custom<JsonValue>(isJsonValue, 'expected a JSON value');

export const tier = z.enum(['free', 'basic', 'premium', 'premium_plus']);
export const billingCycle = z.enum(['monthly', 'quarterly', 'yearly', 'one_time']);

/** The SQL column kind of a modeled field; drives the Prisma row conversion and the bulk SQL. */
export type ColumnKind = 'text' | 'int' | 'bigint' | 'boolean' | 'timestamp' | 'json';

export const sqlTypeOf: Record<ColumnKind, string> = {
  text: 'text',
  int: 'integer',
  bigint: 'bigint',
  boolean: 'boolean',
  timestamp: 'bigint',
  json: 'jsonb',
};
