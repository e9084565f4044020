const plainIdentifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A table or column name as a quoted SQL identifier. Statements take identifiers only from the fixed type
 * descriptors; this refuses anything that is not a plain name, so no value can ever be spliced in as one.
 */
export function quoteIdentifier(name: string): string {
  if (!plainIdentifier.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return `"${name}"`;
}
