import { describe, expect, it } from 'vitest';
import { documentJsonText } from '../../shared/domain/storable-json.js';
import { quarantineEntry, quarantineKey } from '../../shared/write-path/quarantine.js';

/** What the quarantine indexes and shows of a document: never anything that could defeat its indexes. */

const pubkey = 'a'.repeat(64);

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < levels; level += 1) value = { a: value };
  return value;
}

describe('the quarantine key', () => {
  it('is <pubkey>/<id> for an ordinary document, whatever its version', () => {
    expect(quarantineKey({ id: 'payment-1', pubkey, _ts: 1 })).toBe(`${pubkey}/payment-1`);
    expect(quarantineKey({ id: 'payment-1', pubkey, _ts: 2, other: true })).toBe(`${pubkey}/payment-1`);
  });

  it('is a hash of the identity when the identity is too long for an index or holds what text cannot', () => {
    const long = { id: 'payment-1', pubkey: 'f'.repeat(2000) };
    const nul = { id: 'payment-\u0000', pubkey };
    for (const document of [long, nul]) {
      expect(quarantineKey(document)).toMatch(/^sha256:[0-9a-f]{64}$/);
      // Another version of the same document shares it.
      expect(quarantineKey({ ...document, _ts: 99 })).toBe(quarantineKey(document));
    }
  });

  it('tells apart two ids that differ only in a lone surrogate (text would turn both into U+FFFD)', () => {
    const keys = ['\uD800', '\uDBFF', '\uDC00', '\uFFFD'].map((end) => quarantineKey({ id: `payment-${end}`, pubkey }));
    expect(new Set(keys).size).toBe(4);
  });

  it('is a hash of the partition key value and id when the pubkey is not text, the same for every read of the document', () => {
    const absent = quarantineKey({ id: 'backup-1', _ts: 1 });
    expect(absent).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The change feed adds `_lsn`, a query does not; a later version changes the content: one entry all the same.
    expect(quarantineKey({ id: 'backup-1', _ts: 2, _lsn: 40, status: 'done' })).toBe(absent);
    const values = [undefined, null, 12345, '12345', false].map((value) => quarantineKey({ id: 'backup-1', pubkey: value }));
    expect(new Set(values).size).toBe(5);
  });

  it('is a hash of the content for a document without a string id, even one nested 20,000 levels', () => {
    expect(quarantineKey({ pubkey, note: 'no id' })).not.toBe(quarantineKey({ pubkey, note: 'no id either' }));
    expect(quarantineKey(nested(20_000))).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('the descriptive columns and the reason', () => {
  it('leaves out a value that is not storable text or longer than 255 characters, and keeps the rest', () => {
    const entry = quarantineEntry({ id: 'x\u0000', pubkey: 'p'.repeat(256), type: 't'.repeat(255), _ts: 7 }, 'why');
    expect(entry).toMatchObject({ documentId: null, pubkey: null, type: 't'.repeat(255), cosmosTs: 7 });
    expect(quarantineEntry({ id: 'lone \uD800', pubkey: 7, type: true }, 'why')).toMatchObject({
      documentId: null,
      pubkey: '7',
      type: 'true',
    });
  });

  it('stores a reason PostgreSQL can hold, of at most 1,000 characters, and records why and what it competes for', () => {
    const entry = quarantineEntry({ id: 'x', pubkey }, `bad key k\u0000 and \uDC00 ${'z'.repeat(2000)}`, 'conflict', 'accounts:p');
    expect(entry.reason).toContain('k\\u0000 and \\udc00');
    expect(entry.reason).toHaveLength(1000);
    expect(entry).toMatchObject({ reasonCode: 'conflict', competesFor: 'accounts:p' });
    expect(quarantineEntry({ id: 'x', pubkey }, 'why')).toMatchObject({ reasonCode: 'unmappable', competesFor: null });
  });
});

describe('the JSON text of a document', () => {
  it('is what JSON.stringify gives, and is still given where JSON.stringify runs out of stack', () => {
    const document = { b: [1, undefined, 'x'], a: { c: null, skip: undefined }, s: 'lone \uD800' };
    expect(documentJsonText(document)).toBe(JSON.stringify(document));
    const deep = nested(100_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const text = documentJsonText(deep);
    expect(text.startsWith('{"a":{"a":')).toBe(true);
    expect(text.length).toBe('{"a":}'.length * 100_000 + 1);
  });
});
