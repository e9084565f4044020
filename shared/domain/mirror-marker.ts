/**
 * The mark the mirror puts on every document it copies from PostgreSQL to Cosmos: the SHA-256 (hex) of the
 * document's content (`documentHash`), under {@link mirrorMarkerField}. When the change feed brings such a
 * document back, the mark tells the sync it is the mirror's own copy (an echo) exactly when it still equals the
 * hash of what the document holds: a later write that kept the field but changed the content is not an echo.
 * It is not the document's own data: the mapping leaves it out of `extra`, and the repositories never return
 * it, so a write made from a document read back does not carry it (docs/architecture.md, "echo").
 */
export const mirrorMarkerField = '_pgMirror';

/** Whether `value` has the mark's shape: the hex SHA-256 the mirror writes. Anything else under that name is data. */
export function isMirrorMarkerValue(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}
