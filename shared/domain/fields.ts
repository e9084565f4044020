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
  .refine((id) => Buffer.byteLength(id, 'utf8') <= maxIdBytes, `expected an id of at most ${maxIdBytes} bytes`);

/** Milliseconds since the epoch, stored as BIGINT. */
export const timestamp = z.number().int('expected whole milliseconds since the epoch');
export const int32 = z.number().int().min(-2147483648).max(2147483647);
export const int64 = z.number().int();
/** Any JSON object (nested objects are stored whole as JSONB, so their inner shape is not policed). */
export const jsonObject = z.record(z.string(), z.json());
export const jsonValue = z.json();

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
