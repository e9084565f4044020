import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { documentToRow, normalizeDocument, type Row, rowToDocument, systemProperties } from '../../shared/domain/mapping.js';
import { arbitraryAnyDocument, arbitraryDocument, arbitraryInvalidDocument, reasonFields } from '../support/arbitraries.js';

/**
 * Runs per property and type. At 200, each case the arbitraries aim at (prototype-named and nested
 * unmodeled fields, null optionals, no `_ts`, non-ASCII text) came up at least 20 times per type in each
 * of five seeds tried; 1,000 only repeated them, at five times the cost (~24 s of the suite). Seeds differ
 * from run to run, so coverage still grows with every CI run.
 */
const runs = { numRuns: 200 };

function mapOk(document: unknown): Row {
  const mapped = documentToRow(document);
  if (!mapped.ok) throw new Error(`expected the document to map, got: ${mapped.reason}`);
  return mapped.row;
}

/**
 * Deep equality that also fails on extra keys holding `undefined`. Not `toStrictEqual`: it compares
 * `.constructor`, and here that is data (documents may well have a field named `constructor`).
 */
function expectSame(actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  expect(actual).toEqual(expected);
  expect(Object.keys(actual).sort()).toStrictEqual(Object.keys(expected).sort());
}

function expectedColumns(type: DocumentType): string[] {
  const descriptor = documentTypes[type];
  const columns = [...Object.keys(descriptor.columns), 'id', 'pubkey', 'extra', 'cosmosTs', 'cosmosEtag', 'cosmosLsn'];
  if (descriptor.storesType) columns.push('type');
  return columns.sort();
}

/** BIGINT columns as node-postgres (text) and Prisma (BigInt) hand them back. */
function withBigintsAs(type: DocumentType, row: Row, convert: (value: number) => unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...row };
  for (const [column, kind] of Object.entries(documentTypes[type].columns)) {
    if ((kind === 'timestamp' || kind === 'bigint') && typeof copy[column] === 'number') copy[column] = convert(copy[column]);
  }
  return copy;
}

describe.each(documentTypeNames)('mapping a %s document', (type) => {
  it('gives back the normalized document from its row, and the row has exactly the table columns', () => {
    fc.assert(
      fc.property(arbitraryDocument(type), (document) => {
        const mapped = documentToRow(document);
        expect(mapped).toMatchObject({ ok: true, type });
        const row = mapOk(document);
        expectSame(rowToDocument(type, row), normalizeDocument(document));
        expect(Object.keys(row).sort()).toStrictEqual(expectedColumns(type));
        expect(row.cosmosTs).toBe(typeof document._ts === 'number' ? document._ts : 0);
        expect(row.cosmosEtag).toBe(typeof document._etag === 'string' ? document._etag : null);
        expect(row.cosmosLsn).toBe(typeof document._lsn === 'number' ? document._lsn : null);
      }),
      runs,
    );
  });

  it('keeps every unmodeled field in extra, and nothing else', () => {
    const modeled = documentTypes[type].schema.shape;
    const system = new Set<string>(systemProperties);
    fc.assert(
      fc.property(arbitraryDocument(type), (document) => {
        const unmodeled = Object.keys(document).filter((key) => !Object.hasOwn(modeled, key) && !system.has(key));
        expect(Object.keys(mapOk(document).extra).sort()).toStrictEqual(unmodeled.sort());
      }),
      runs,
    );
  });

  it('is idempotent: row -> document -> row gives the same row, bar the copied system properties', () => {
    fc.assert(
      fc.property(arbitraryDocument(type), (document) => {
        const row = mapOk(document);
        const again = mapOk(rowToDocument(type, row));
        expectSame(again, { ...row, cosmosTs: 0, cosmosEtag: null, cosmosLsn: null });
      }),
      runs,
    );
  });

  it('survives the database: JSON columns through JSON text, BIGINTs back as strings or BigInt', () => {
    fc.assert(
      fc.property(arbitraryDocument(type), (document) => {
        const row = mapOk(document);
        const normalized = normalizeDocument(document);
        const stored = JSON.parse(JSON.stringify(row)) as Row;
        expectSame(stored.extra, row.extra);
        expectSame(rowToDocument(type, stored), normalized);
        expectSame(rowToDocument(type, withBigintsAs(type, stored, String)), normalized);
        expectSame(rowToDocument(type, withBigintsAs(type, stored, BigInt)), normalized);
      }),
      runs,
    );
  });

  it('rejects a document with one required field broken, naming that field and only it', () => {
    fc.assert(
      fc.property(arbitraryInvalidDocument(type), ({ document, field }) => {
        const mapped = documentToRow(document);
        expect(mapped.ok).toBe(false);
        if (mapped.ok) return;
        expect(reasonFields(mapped.reason)).toStrictEqual([field]);
      }),
      runs,
    );
  });
});

describe('the arbitraries behind these properties', () => {
  // Guards against vacuous properties: each case the properties claim to cover is really generated.
  const sample = fc.sample(arbitraryAnyDocument(), { numRuns: 3000, seed: 42 });

  function share(predicate: (document: Record<string, unknown>) => boolean): number {
    return sample.filter(predicate).length;
  }

  function unmodeled(document: Record<string, unknown>): string[] {
    const type = documentTypeOf(document.type);
    if (!type) throw new Error(`arbitrary produced an unknown type ${String(document.type)}`);
    const modeled = documentTypes[type].schema.shape;
    return Object.keys(document).filter((key) => !Object.hasOwn(modeled, key) && !systemProperties.includes(key as never));
  }

  it('produces optional fields absent, null and set; unmodeled fields of every JSON shape; system properties', () => {
    const counts = {
      absentOptional: share((d) => d.type === 'account' && !Object.hasOwn(d, 'username')),
      nullOptional: share((d) => d.type === 'account' && d.username === null),
      setOptional: share((d) => d.type === 'account' && typeof d.username === 'string'),
      legacyType: share((d) => d.type === 'user-settings'),
      nestedExtra: share((d) => unmodeled(d).some((key) => typeof d[key] === 'object' && d[key] !== null)),
      prototypeNamedExtra: share((d) => Object.hasOwn(d, '__proto__') || Object.hasOwn(d, 'constructor')),
      nonAsciiText: share((d) => Object.values(d).some((value) => typeof value === 'string' && /[^\x00-\x7f]/.test(value))),
      bigintPast2To31: share((d) => typeof d.creditNanosUsd === 'number' && d.creditNanosUsd > 2 ** 31),
      withTs: share((d) => typeof d._ts === 'number'),
      withoutTs: share((d) => !Object.hasOwn(d, '_ts')),
      withEtag: share((d) => typeof d._etag === 'string'),
    };
    for (const [name, count] of Object.entries(counts)) expect(count, name).toBeGreaterThan(0);
  });
});
