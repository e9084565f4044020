import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { documentTypeNames, documentTypes } from '../../shared/domain/document-types.js';
import { maxIdBytes } from '../../shared/domain/fields.js';
import { documentToRow } from '../../shared/domain/mapping.js';
import { compileObjectCheck, type ObjectCheck } from '../../shared/domain/object-check.js';
import { arbitraryDocument, arbitraryInvalidDocument } from '../support/arbitraries.js';

// zod is the reference throughout: the compiled check must give zod's own verdict.

function compiled(schema: z.ZodObject): ObjectCheck {
  const check = compileObjectCheck(schema);
  if (!check) throw new Error('expected the schema to compile');
  return check;
}

/** Values that sit on the edges of the document schemas' rules. */
const edgeValue = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    '',
    '😀',
    '\uD800',
    'a'.repeat(maxIdBytes),
    '€'.repeat(341),
    '€'.repeat(342),
    'f'.repeat(64),
    'F'.repeat(63),
    `${'a'.repeat(64)}\n`,
    0,
    -0,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 1,
    2147483647,
    2147483648,
    -2147483648,
    -2147483649,
    true,
    'free',
    'Free',
    'ln',
    'user-settings',
    [],
    {},
    { nested: [1, 'two', null] },
    new Date(0),
  ),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.integer(),
  fc.double(),
  fc.anything({ maxDepth: 2, withBoxedValues: true, withDate: true, withNullPrototype: true, withSparseArray: true }),
);

/** A valid document with some modeled fields (optional ones too) removed or given edge values. */
function arbitraryMutatedDocument(type: (typeof documentTypeNames)[number]) {
  const fields = Object.keys(documentTypes[type].schema.shape);
  const change = fc.tuple(fc.constantFrom(...fields), fc.option(edgeValue, { nil: Symbol.for('absent') }));
  return fc.tuple(arbitraryDocument(type), fc.array(change, { minLength: 1, maxLength: 3 })).map(([document, changes]) => {
    const mutated: Record<string, unknown> = { ...document };
    for (const [field, value] of changes) {
      if (value === Symbol.for('absent')) delete mutated[field];
      else mutated[field] = value;
    }
    return mutated;
  });
}

describe.each(documentTypeNames)('the compiled check of a %s document', (type) => {
  const schema = documentTypes[type].schema as z.ZodObject;
  const check = compiled(schema);

  it('accepts every valid document', () => {
    fc.assert(
      fc.property(arbitraryDocument(type), (document) => {
        expect(check.accepts(document)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses every document zod refuses for a required field', () => {
    fc.assert(
      fc.property(arbitraryInvalidDocument(type), ({ document }) => {
        expect(schema.safeParse(document).success).toBe(false);
        expect(check.accepts(document)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("gives zod's verdict on documents whose fields are removed or set to edge values", () => {
    fc.assert(
      fc.property(arbitraryMutatedDocument(type), (document) => {
        expect(check.accepts(document)).toBe(schema.safeParse(document).success);
      }),
      { numRuns: 500 },
    );
  });
});

describe('compileObjectCheck', () => {
  it.each([
    ['min_length in code points', z.object({ a: z.string().min(2) }), ['😀', 'ab', '😀😀', 'a', '\uD800\uDC00x']],
    ['a regex with the global flag', z.object({ a: z.string().regex(/^x/g) }), ['x', 'xx', 'y']],
    ['exclusive bounds', z.object({ a: z.number().gt(0).lt(10) }), [0, 10, 5, 9.99, -0, Number.NaN]],
    ['a bare number', z.object({ a: z.number() }), [1.5, Number.NaN, Number.POSITIVE_INFINITY, '1']],
    ['int bounds', z.object({ a: z.number().int().min(-5).max(5) }), [5, 6, -5, -6, 1.5, 2 ** 53]],
    ['nullable but required', z.object({ a: z.string().nullable() }), [null, undefined, 'x']],
    ['optional', z.object({ a: z.boolean().optional() }), [undefined, true, null]],
    ['a refinement', z.object({ a: z.string().refine((text) => text.length % 2 === 0) }), ['', 'a', 'ab']],
    ['unknown', z.object({ a: z.unknown() }), [undefined, null, 1]],
  ])('mirrors zod: %s', (_, schema, values) => {
    const check = compileObjectCheck(schema);
    // A schema this module declines is answered by zod alone, which is correct too; these must compile.
    expect(check).toBeDefined();
    for (const value of values) {
      expect(check?.accepts({ a: value }), String(value)).toBe(schema.safeParse({ a: value }).success);
    }
    expect(check?.accepts({})).toBe(schema.safeParse({}).success);
  });

  it.each([
    ['a transform', z.object({ a: z.string().transform((text) => text.length) })],
    ['a default', z.object({ a: z.string().default('x') })],
    ['coercion', z.object({ a: z.coerce.number() })],
    ['a string format it does not mirror', z.object({ a: z.email() })],
    ['a number format it does not mirror', z.object({ a: z.int32() })],
    ['a strict object', z.strictObject({ a: z.string() })],
    ['a refinement of the object', z.object({ a: z.string() }).refine((value) => value.a !== '')],
    ['a nested object', z.object({ a: z.object({ b: z.string() }) })],
    ['a union', z.object({ a: z.union([z.string(), z.number()]) })],
    ['a multipleOf check', z.object({ a: z.number().multipleOf(2) })],
  ])('declines a schema with %s', (_, schema) => {
    expect(compileObjectCheck(schema as unknown as z.ZodObject)).toBeUndefined();
  });

  it('leaves a document it does not accept to zod, whose reason the mapping reports', () => {
    const mapped = documentToRow({ id: 'x', pubkey: 'f'.repeat(64), type: 'notification-log', created: 1.5 });
    expect(mapped).toMatchObject({ ok: false, type: 'notification-log' });
    expect(mapped.ok ? '' : mapped.reason).toContain('created');
  });
});
