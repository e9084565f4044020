import { documentTypeNames, documentTypeOf, documentTypes } from './document-types.js';

/** Shown instead of the value of a secret field, or of anything inside one. */
export const REDACTED = '[redacted]';

/** Every field some type holds a secret in: what a document of no known type is redacted by. */
const everySecretField = [...new Set(documentTypeNames.flatMap((type) => documentTypes[type].secretFields))];

/**
 * `document` with the value of each top-level secret field of its type (`secretFields`; of every type when
 * its type is none of the seven) replaced by {@link REDACTED}, for showing a document to a person. Anything
 * that is not an object is returned as it is.
 */
export function redactSecretFields(document: unknown): unknown {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return document;
  const fields = document as Record<string, unknown>;
  const type = documentTypeOf(fields.type);
  const secrets = type ? documentTypes[type].secretFields : everySecretField;
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [key, secrets.includes(key) && value !== undefined ? REDACTED : value]),
  );
}
