import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { documentToRow, type Row } from '../../shared/domain/mapping.js';
import { compareCodePoints, compareVersions, supersedes } from '../../shared/postgres/version-order.js';
import { type Candidate, keepNewestCopies, type Plan, planDocuments, scheduleRounds } from '../../shared/write-path/plan-documents.js';
import { arbitraryDocument, type JsonDocument } from '../support/arbitraries.js';

/**
 * The write path's planning, with no database: what each document becomes, which copy of a document is
 * kept, and the rounds competing documents are written in. Whether the database then decides each
 * round as the planner expects is `test/integration/bulk-upsert.test.ts`.
 */

const runs = { numRuns: 300 };

/** Few pubkeys and ids, so that copies of one document and competitors for one row are common. */
const pubkeys = ['a'.repeat(64), 'B'.repeat(64), 'c'.repeat(64)];
/** Ids whose code point order differs from JS `<` and from a linguistic collation ('B' < 'a', U+1F600 > U+FFFD). */
const ids = ['id-a', 'id-B', 'é', '\u{1F600}', '\uFFFD'];

interface Shape {
  base: JsonDocument;
  pubkey: number;
  id: number;
  ts: number;
  modified: number | undefined;
  /** Within one time, the order the change feed saw the versions in; undefined: read without the change feed. */
  sequence: number | undefined;
  broken: boolean;
}

const shape: fc.Arbitrary<Shape> = fc.record({
  base: fc.oneof(...documentTypeNames.map((type) => arbitraryDocument(type))),
  pubkey: fc.nat({ max: pubkeys.length - 1 }),
  id: fc.nat({ max: ids.length - 1 }),
  ts: fc.integer({ min: 1, max: 3 }),
  modified: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  sequence: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  // About one document in eight does not map.
  broken: fc.nat({ max: 7 }).map((n) => n === 0),
});

function documentOf(s: Shape): JsonDocument {
  const document: JsonDocument = { ...s.base, pubkey: pubkeys[s.pubkey], id: ids[s.id], _ts: s.ts };
  if (s.modified === undefined) delete document.modified;
  else document.modified = s.modified;
  // Positions grow with the time, as the change feed's do for one document: they only order versions of one time.
  if (s.sequence === undefined) delete document._lsn;
  else document._lsn = s.ts * 100 + ((s.modified ?? -1) + 1) * 10 + s.sequence;
  // A pubkey that is not hex: unmappable, but still of a known type.
  if (s.broken) document.pubkey = 'not a pubkey';
  return document;
}

const batch = fc.array(shape, { minLength: 0, maxLength: 30 }).map((shapes) => shapes.map(documentOf));

function plannedCandidates(plan: Plan): Array<{ type: DocumentType; round: number; candidate: Candidate }> {
  return plan.types.flatMap(({ type, rounds }) => rounds.flatMap((round, n) => round.map((candidate) => ({ type, round: n, candidate }))));
}

function keyOf(type: DocumentType, row: Row): string {
  return documentTypes[type].key === 'pubkey' ? row.pubkey : row.id;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups.values()];
}

function candidate(index: number, document: JsonDocument): Candidate {
  const mapped = documentToRow(document);
  if (!mapped.ok) throw new Error(`expected a valid document: ${mapped.reason}`);
  return { index, document, row: mapped.row };
}

const account = (pubkey: string, id: string, ts: number, modified?: number): JsonDocument => ({
  id,
  pubkey,
  type: 'account',
  tier: 'free',
  subscription: {},
  created: 1_700_000_000_000,
  ...(modified === undefined ? {} : { modified }),
  _ts: ts,
});

const payment = (pubkey: string, id: string, ts: number): JsonDocument => ({
  id,
  pubkey,
  type: 'payment',
  paymentType: 'ln',
  lnHash: 'h',
  lnInvoice: 'i',
  lnAmountSat: 1,
  tier: 'basic',
  billingCycle: 'monthly',
  priceCents: 100,
  isPaid: false,
  expires: 1_800_000_000_000,
  created: 1_700_000_000_000,
  _ts: ts,
});

describe('compareCodePoints', () => {
  it('orders strings as PostgreSQL\'s COLLATE "C" does: by their UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 6 }), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it('puts characters beyond U+FFFF after U+E000–U+FFFF, where JS < puts them before', () => {
    expect('\u{10000}' < '\uFFFD').toBe(true);
    expect(compareCodePoints('\u{10000}', '\uFFFD')).toBeGreaterThan(0);
    expect(compareCodePoints('B', 'a')).toBeLessThan(0);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
    expect(compareCodePoints('same', 'same')).toBe(0);
  });
});

describe('compareVersions (the version order of version-order.ts)', () => {
  const row = (document: JsonDocument) => candidate(0, document).row;

  it('orders by _ts first, then modified, a missing modified being older than any', () => {
    const p = pubkeys[0] as string;
    expect(compareVersions('account', row(account(p, 'x', 2, 0)), row(account(p, 'x', 1, 9)))).toBeGreaterThan(0);
    expect(compareVersions('account', row(account(p, 'x', 1, 5)), row(account(p, 'x', 1, 4)))).toBeGreaterThan(0);
    expect(compareVersions('account', row(account(p, 'x', 1)), row(account(p, 'x', 1, 0)))).toBeLessThan(0);
    expect(compareVersions('account', row(account(p, 'x', 1, 3)), row(account(p, 'x', 1, 3)))).toBe(0);
  });

  it('breaks a tie between two documents by id in code point order', () => {
    const p = pubkeys[0] as string;
    expect(compareVersions('account', row(account(p, 'a', 1, 3)), row(account(p, 'B', 1, 3)))).toBeGreaterThan(0);
    expect(compareVersions('account', row(account(p, '\u{1F600}', 1)), row(account(p, '\uFFFD', 1)))).toBeGreaterThan(0);
  });

  it('ignores `modified` for a type without that column (account-settings)', () => {
    const settings = (modified: number): JsonDocument => ({
      id: 'settings',
      pubkey: pubkeys[0],
      type: 'account-settings',
      created: 1,
      modified,
      _ts: 5,
    });
    expect(compareVersions('account-settings', row(settings(9)), row(settings(1)))).toBe(0);
  });
});

describe('keepNewestCopies', () => {
  it('keeps the newest copy of a document, the later of equal versions, in call order', () => {
    const p = pubkeys[0] as string;
    const copies = [account(p, 'x', 1), account(p, 'x', 3, 1), account(p, 'y', 1), account(p, 'x', 3, 1), account(p, 'x', 2)];
    const kept = keepNewestCopies(
      'account',
      copies.map((document, index) => candidate(index, document)),
    );
    expect(kept.map((c) => c.index)).toEqual([2, 3]);
  });
});

describe('scheduleRounds', () => {
  it('puts two documents of one pubkey in successive rounds, the newer first; a round is in key order (B… before a…)', () => {
    const p = pubkeys[0] as string;
    const older = candidate(0, account(p, 'older', 1));
    const newer = candidate(1, account(p, 'newer', 2));
    const other = candidate(2, account(pubkeys[1] as string, 'other', 1));
    expect(scheduleRounds('account', [older, newer, other]).map((round) => round.map((c) => c.index))).toEqual([[2, 1], [0]]);
  });

  it('puts an id claimed by two pubkeys in successive rounds, the first claimant first', () => {
    const first = candidate(0, payment(pubkeys[1] as string, 'pay-1', 5));
    const second = candidate(1, payment(pubkeys[0] as string, 'pay-1', 1));
    expect(scheduleRounds('payment', [first, second]).map((round) => round.map((c) => c.index))).toEqual([[0], [1]]);
  });

  it('never puts one id twice in a round of a pubkey-keyed table', () => {
    const a = candidate(0, account(pubkeys[0] as string, 'shared', 2));
    const b = candidate(1, account(pubkeys[1] as string, 'shared', 1));
    expect(scheduleRounds('account', [a, b]).map((round) => round.map((c) => c.index))).toEqual([[0], [1]]);
  });

  it('writes rows that do not compete in one round, sorted by key', () => {
    const rows = [2, 0, 1].map((n, index) => candidate(index, payment(pubkeys[n] as string, `pay-${n}`, 1)));
    expect(scheduleRounds('payment', rows).map((round) => round.map((c) => c.row.id))).toEqual([['pay-0', 'pay-1', 'pay-2']]);
  });

  it('sorts keys beyond U+FFFF after U+E000–U+FFFF, as PostgreSQL does, even among ASCII keys', () => {
    const ids = ['\u{10000}-astral', 'pay-ascii', '\uFFFD-bmp'];
    const rows = ids.map((id, index) => candidate(index, payment(pubkeys[index] as string, id, 1)));
    expect(scheduleRounds('payment', rows).map((round) => round.map((c) => c.row.id))).toEqual([
      ['pay-ascii', '\uFFFD-bmp', '\u{10000}-astral'],
    ]);
  });
});

describe('planDocuments', () => {
  it('puts every document in exactly one place: a round, the unmappable, or superseded', () => {
    fc.assert(
      fc.property(batch, (documents) => {
        const plan = planDocuments(documents);
        const planned = plannedCandidates(plan).map(({ candidate }) => candidate.index);
        const unmappable = plan.unmappable.map((item) => item.index);
        expect(planned.length + unmappable.length + plan.superseded).toBe(documents.length);
        expect(new Set([...planned, ...unmappable]).size).toBe(planned.length + unmappable.length);
        expect(unmappable).toEqual(documents.flatMap((document, index) => (documentToRow(document).ok ? [] : [index])));
        for (const item of plan.unmappable) expect(item.document).toBe(documents[item.index]);
      }),
      runs,
    );
  });

  it('plans only the newest copy of each document: none before it supersedes it, and it supersedes none after it', () => {
    fc.assert(
      fc.property(batch, (documents) => {
        const plan = planDocuments(documents);
        const planned = new Set(plannedCandidates(plan).map(({ candidate }) => candidate.index));
        const mapped = documents.flatMap((document, index) => {
          const result = documentToRow(document);
          return result.ok ? [{ type: result.type, candidate: { index, document, row: result.row } }] : [];
        });
        for (const copies of groupBy(mapped, ({ type, candidate }) => `${type}|${candidate.row.pubkey}/${candidate.row.id}`)) {
          const kept = copies.filter(({ candidate }) => planned.has(candidate.index));
          expect(kept).toHaveLength(1);
          const [{ type, candidate: winner }] = kept as [(typeof kept)[number]];
          for (const { candidate: copy } of copies) {
            if (copy === winner) continue;
            if (copy.index < winner.index) expect(supersedes(type, winner.row, copy.row)).toBe(true);
            else expect(supersedes(type, copy.row, winner.row)).toBe(false);
          }
        }
      }),
      runs,
    );
  });

  it('keeps each round free of shared keys (and, by pubkey, shared ids), sorted by key, tables in their fixed order', () => {
    fc.assert(
      fc.property(batch, (documents) => {
        const plan = planDocuments(documents);
        const order = plan.types.map(({ type }) => documentTypeNames.indexOf(type));
        expect(order).toEqual([...new Set(order)].sort((a, b) => a - b));
        for (const { type, rounds } of plan.types) {
          expect(rounds.length).toBeGreaterThan(0);
          for (const round of rounds) {
            const keys = round.map((c) => keyOf(type, c.row));
            expect(round.length).toBeGreaterThan(0);
            for (let i = 1; i < keys.length; i += 1) expect(compareCodePoints(keys[i - 1] as string, keys[i] as string)).toBeLessThan(0);
            if (documentTypes[type].key === 'pubkey') expect(new Set(round.map((c) => c.row.id)).size).toBe(round.length);
            for (const c of round) expect(documentTypeOf((c.document as JsonDocument).type)).toBe(type);
          }
        }
      }),
      runs,
    );
  });

  it('schedules competitors in successive rounds: by pubkey the highest precedence first, by id the first claimant first', () => {
    fc.assert(
      fc.property(batch, (documents) => {
        const planned = plannedCandidates(planDocuments(documents));
        for (const group of groupBy(planned, ({ type, candidate }) => `${type}|${keyOf(type, candidate.row)}`)) {
          const type = (group[0] as (typeof group)[number]).type;
          const expectedOrder = [...group].sort((a, b) =>
            documentTypes[type].key === 'pubkey'
              ? compareVersions(type, b.candidate.row, a.candidate.row)
              : a.candidate.index - b.candidate.index,
          );
          const rounds = expectedOrder.map(({ round }) => round);
          for (let i = 1; i < rounds.length; i += 1) expect(rounds[i]).toBeGreaterThan(rounds[i - 1] as number);
        }
      }),
      runs,
    );
  });

  it('needs a single round per type when no two documents compete for a row', () => {
    fc.assert(
      fc.property(batch, (documents) => {
        for (const { type, rounds } of planDocuments(documents).types) {
          const rows = rounds.flat().map((c) => c.row);
          const keysDistinct = new Set(rows.map((row) => keyOf(type, row))).size === rows.length;
          const idsDistinct = new Set(rows.map((row) => row.id)).size === rows.length;
          if (keysDistinct && idsDistinct) expect(rounds).toHaveLength(1);
        }
      }),
      runs,
    );
  });
});
