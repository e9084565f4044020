import { DocumentValidationError } from '../core/errors.js';
import type { DocumentType } from './document-types.js';
import { type CosmosDocument, documentToRow, type Row, rowToDocument } from './mapping.js';

export interface ValidDocument {
  /** The PostgreSQL row (numbers, not yet BigInt). */
  row: Row;
  /** The document as both databases keep it: system properties and null optional fields dropped. */
  document: CosmosDocument;
}

/**
 * Checks a document a caller wants to write against `type`'s schema, the same way in both
 * implementations. The message is the mapping's reason, which names fields, never their values.
 */
export function validateDocument(type: DocumentType, input: unknown): ValidDocument {
  const mapped = documentToRow(input);
  if (!mapped.ok) throw new DocumentValidationError(mapped.reason);
  if (mapped.type !== type) {
    throw new DocumentValidationError(`expected a ${type} document, got a ${mapped.type} document`);
  }
  return { row: mapped.row, document: rowToDocument(type, mapped.row) };
}
