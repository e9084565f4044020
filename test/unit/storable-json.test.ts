import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { documentToRow } from '../../shared/domain/mapping.js';
import { findUnstorable, isStorableText, maxNestingDepth } from '../../shared/domain/storable-json.js';

const pubkey = 'a'.repeat(64);
const settings = { id: `notification-settings-${pubkey}`, pubkey, type: 'notification-settings', enabled: true, created: 1, _ts: 10 };

/** `{ a: { a: ... { a: leaf } } }`, `levels` objects deep, built without recursion. */
function nested(levels: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let level = 0; level < levels; level += 1) value = { a: value };
  return value;
}

describe('text PostgreSQL cannot store exactly', () => {
  it('finds a lone surrogate half in a value, high or low, but accepts a proper pair', () => {
    expect(isStorableText('emoji \uD83D\uDE00 pair')).toBe(true);
    expect(isStorableText('high \uD83D alone')).toBe(false);
    expect(isStorableText('low \uDE00 alone')).toBe(false);
    expect(isStorableText('ends with a high half \uD83D')).toBe(false);
    expect(isStorableText('nul \u0000 inside')).toBe(false);
  });

  it('accepts exactly the text that comes back unchanged from UTF-8 and holds no NUL, for any UTF-16 string', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(
            fc.constantFrom('\u0000', '\uD83D', '\uDE00', '\uDBFF', '\uDC00'),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
          ),
        }),
        (text) => {
          const survivesUtf8 = Buffer.from(text, 'utf8').toString('utf8') === text;
          expect(isStorableText(text)).toBe(survivesUtf8 && !text.includes('\u0000'));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('names where: a value, a key, an array element', () => {
    expect(findUnstorable({ a: { b: ['ok', 'x\uD800'] } })).toEqual({ kind: 'lone-surrogate', path: 'a.b[1]' });
    expect(findUnstorable({ a: { ['k\uDC00']: 1 } })).toEqual({ kind: 'lone-surrogate', path: 'a.k\\udc00' });
    expect(findUnstorable({ first: 'x\u0000', second: 'y\uD800' })).toEqual({ kind: 'nul', path: 'first' });
    expect(findUnstorable({ fine: ['\uD83D\uDE00'], n: 1, t: true, z: null })).toBeUndefined();
  });

  it("walks 100,000 levels without overflowing the stack and stops past Cosmos DB's limit", () => {
    expect(findUnstorable(nested(maxNestingDepth))).toBeUndefined();
    const found = findUnstorable(nested(100_000));
    expect(found?.kind).toBe('too-deep');
    expect(found?.path).toContain('more levels');
    expect(found?.path.length).toBeLessThan(200);
  });
});

describe('documents the mapping quarantines for what PostgreSQL cannot hold', () => {
  it('refuses a lone surrogate anywhere (so two ids differing only there never become one row)', () => {
    const results = [
      documentToRow({ ...settings, id: `${settings.id}\uD800` }),
      documentToRow({ ...settings, settings: { ['k\uDBFF']: 1 } }),
      documentToRow({ ...settings, filters: ['\uDC00'] }),
    ];
    for (const result of results) {
      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).toMatch(/^notification-settings: .+: contains a lone UTF-16 surrogate/);
    }
  });

  it('refuses a document nested 2,000 levels deep with a reason, instead of crashing the validator', () => {
    const result = documentToRow({ ...settings, settings: nested(2000) });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/^notification-settings: settings\.a.*nested more than 128 levels deep/);
  });

  it('describes an unknown type by its length and a hash, never its text', () => {
    const secretLooking = `x-${'s3cr3t'.repeat(500)}`;
    const result = documentToRow({ ...settings, type: secretLooking });
    expect(result.ok).toBe(false);
    const reason = result.ok ? '' : result.reason;
    expect(reason).toMatch(/^unknown document type \(3002 characters, sha256 [0-9a-f]{12}\)$/);
    expect(reason).not.toContain('s3cr3t');
  });
});
