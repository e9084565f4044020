import { createHash } from 'node:crypto';
import { jsonText } from '../core/json-text.js';
import { normalizeDocument } from '../domain/mapping.js';

/**
 * JSON with object keys sorted at every depth, so two equal documents serialise to the same text
 * whatever order their keys were written in (Cosmos keeps insertion order, JSONB sorts its own way).
 * Iterative: a document nested thousands of levels deep (which the mapping quarantines, but which
 * verification still reads from Cosmos) is hashed like any other instead of overflowing the stack.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  // Work still to do, last first: a value to serialise, or text to emit as it is.
  const work: Array<{ value: unknown } | string> = [{ value }];
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const current = item.value;
    if (Array.isArray(current)) {
      work.push(']');
      for (let index = current.length - 1; index >= 0; index -= 1) {
        const element: unknown = current[index];
        work.push({ value: element === undefined ? null : element });
        if (index > 0) work.push(',');
      }
      work.push('[');
    } else if (current !== null && typeof current === 'object') {
      const object = current as Record<string, unknown>;
      const keys = Object.keys(object)
        .filter((key) => object[key] !== undefined)
        .sort();
      work.push('}');
      for (let index = keys.length - 1; index >= 0; index -= 1) {
        const key = keys[index] as string;
        work.push({ value: object[key] }, `${JSON.stringify(key)}:`);
        if (index > 0) work.push(',');
      }
      work.push('{');
    } else {
      out.push(jsonText(current) ?? 'null');
    }
  }
  return out.join('');
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
