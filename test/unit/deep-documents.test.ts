import { describe, expect, it } from 'vitest';
import { canonicalJson, documentHash } from '../../shared/domain/document-hash.js';
import { diffDocuments } from '../../shared/verification/document-diff.js';

/** `{ a: { a: ... { a: leaf } } }`, `levels` objects deep, built without recursion. */
function nested(levels: number, leaf: unknown): Record<string, unknown> {
  let value: unknown = leaf;
  for (let level = 0; level < levels; level += 1) value = { a: value };
  return value as Record<string, unknown>;
}

describe('verification on documents nested far deeper than Cosmos DB allows', () => {
  it('serialises keys sorted at every depth, as JSON, whatever the key order', () => {
    const text = canonicalJson({ b: [1, { d: 'x', c: null }, undefined], a: { z: true, y: 'é"' }, skipped: undefined });
    expect(text).toBe('{"a":{"y":"é\\"","z":true},"b":[1,{"c":null,"d":"x"},null]}');
    expect(JSON.parse(text)).toEqual({ a: { y: 'é"', z: true }, b: [1, { c: null, d: 'x' }, null] });
  });

  it('hashes and diffs 50,000 levels without overflowing the stack, and finds the one difference at the bottom', () => {
    const cosmos = nested(50_000, 1);
    const postgres = nested(50_000, 2);
    expect(documentHash(cosmos)).not.toBe(documentHash(postgres));
    expect(documentHash(cosmos)).toBe(documentHash(nested(50_000, 1)));
    const differences = diffDocuments(cosmos, postgres);
    expect(differences).toHaveLength(1);
    expect(differences[0]?.path.split('.')).toHaveLength(50_000);
    expect(differences[0]).toMatchObject({ cosmos: 1, postgres: 2 });
  });
});
