import { createHash } from 'node:crypto';
import { iterativeJsonText } from '../core/json-text.js';
import { normalizeDocument } from './mapping.js';

/**
 * JSON with object keys sorted at every depth, so two equal documents serialise to the same text
 * whatever order their keys were written in (Cosmos keeps insertion order, JSONB sorts its own way).
 * Iterative: a document nested thousands of levels deep (which the mapping quarantines, but which
 * verification still reads from Cosmos) is hashed like any other instead of overflowing the stack.
 */
export function canonicalJson(value: unknown): string {
  return iterativeJsonText(value, { sortKeys: true });
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
