import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isJsonValue, jsonObject, jsonValue } from '../../shared/domain/fields.js';
import { documentToRow } from '../../shared/domain/mapping.js';

// zod's own `z.json()` is the reference: the schemas' hand-written check must accept exactly what it accepts.
const reference = z.json();
const referenceObject = z.record(z.string(), z.json());

/** Any JavaScript value, JSON or not: boxed values, Dates, Maps, sparse arrays, null prototypes, -0, NaN. */
const anything = fc.anything({
  maxDepth: 4,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
  withBigInt: true,
  withObjectString: true,
});

describe('isJsonValue', () => {
  it('accepts exactly what z.json() accepts, for any value', () => {
    fc.assert(
      fc.property(anything, (value) => {
        expect(isJsonValue(value)).toBe(reference.safeParse(value).success);
        expect(jsonObject.safeParse(value).success).toBe(referenceObject.safeParse(value).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts any JSON text once parsed', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(isJsonValue(JSON.parse(JSON.stringify(value)))).toBe(true);
      }),
    );
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['undefined inside an array', [1, undefined]],
    ['a hole in an array', Object.assign(new Array(3), { 0: 1, 2: 3 })],
    ['a Date inside an object', { when: new Date(0) }],
    ['a function', () => 1],
    ['a bigint', 1n],
  ])('refuses %s', (_, value) => {
    expect(isJsonValue(value)).toBe(false);
  });

  it('walks a value nested far deeper than the stack without overflowing', () => {
    let deep: unknown = 'bottom';
    for (let level = 0; level < 200_000; level += 1) deep = { next: [deep] };
    expect(isJsonValue(deep)).toBe(true);
    expect(jsonValue.safeParse(deep).success).toBe(true);
  });

  it("names the field in a document's reason when a JSON field holds what JSON cannot", () => {
    const mapped = documentToRow({
      id: 'settings-1',
      type: 'notification-settings',
      pubkey: 'a'.repeat(64),
      created: 1_700_000_000_000,
      filters: { kinds: [1, Number.NaN] },
    });
    expect(mapped).toMatchObject({ ok: false, reason: expect.stringMatching(/^notification-settings: filters: expected a JSON value/) });
  });
});
