import { createHash } from 'node:crypto';
import { jsonText } from '../core/json-text.js';
import { normalizeDocument } from '../domain/mapping.js';

/**
 * JSON with object keys sorted at every depth, so two equal documents serialise to the same text
 * whatever order their keys were written in (Cosmos keeps insertion order, JSONB sorts its own way).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    const members = Object.keys(object)
      .filter((key) => object[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
    return `{${members.join(',')}}`;
  }
  // `JSON.stringify` gives undefined for values JSON cannot hold (undefined, a function): those are null here.
  return jsonText(value) ?? 'null';
}

/**
 * SHA-256 (hex) of the document as the mapping keeps it (`normalizeDocument`), so a Cosmos document
 * and the row it was migrated to hash the same exactly when they agree field for field.
 */
export function documentHash(document: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonicalJson(normalizeDocument(document)))
    .digest('hex');
}
