import { randomBytes } from 'node:crypto';

/**
 * The documents issue 9 found stopping a page, a sync batch or a queue message for ever, each as something
 * Cosmos DB accepts (or its change feed can deliver). One list, so that the migration's page path, the sync
 * handler and the queue are all tried with the same shapes (test/integration/nothing-lost.test.ts).
 */

export type Doc = Record<string, unknown>;

export interface DocumentShape {
  name: string;
  /**
   * The bad document(s) for a user, each carrying `marker` in a field of its own, so a test can find its
   * quarantine entry without computing the entry's key. Most shapes are one document; one is a pair.
   */
  make(pubkey: string, marker: string): Doc[];
  /** What the quarantine must say about each: `refused` by PostgreSQL, or `unmappable` before it. */
  reasonCode: 'refused' | 'unmappable';
  /** What the reason names (the database's complaint, or the field and what is wrong with it). */
  reason: RegExp;
  /**
   * How the queue gets it: `cosmos`, written to Cosmos and read back by id (what a resync entry does), or
   * `whole`, for a document no point read can name (an id a request path cannot carry), which the sync
   * hands to the queue whole.
   */
  delivery: 'cosmos' | 'whole';
}

/** Incompressible text: PostgreSQL compresses index entries, so only random text overflows a btree row. */
export function randomText(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4))
    .toString('base64')
    .slice(0, length);
}

export function nested(levels: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let level = 0; level < levels; level += 1) value = { a: value };
  return value;
}

export function account(pubkey: string, marker: string): Doc {
  return {
    id: `account-${pubkey}`,
    type: 'account',
    pubkey,
    username: 'someone',
    tier: 'premium',
    subscription: { tier: 'premium' },
    created: 1_700_000_000_000,
    modified: 1_700_000_000_001,
    marker,
  };
}

export function payment(pubkey: string, id: string, marker?: string): Doc {
  return {
    id,
    type: 'payment',
    pubkey,
    paymentType: 'ln',
    lnHash: `hash-${id.slice(-12)}`,
    lnInvoice: 'lnbc1',
    lnAmountSat: 21_000,
    tier: 'premium',
    billingCycle: 'monthly',
    priceCents: 999,
    isPaid: true,
    expires: 1_700_000_900_000,
    created: 1_700_000_000_000,
    modified: 1_700_000_000_001,
    ...(marker === undefined ? {} : { marker }),
  };
}

function paymentId(marker: string): string {
  return `payment-${marker}`;
}

export const documentShapes: DocumentShape[] = [
  {
    name: 'accounts.username of 3,000 characters (too large for its btree index)',
    make: (pubkey, marker) => [{ ...account(pubkey, marker), username: randomText(3000) }],
    reasonCode: 'refused',
    reason: /SQLSTATE 54000: index row size \d+ exceeds btree version \d maximum 2704 for index "accounts_username(_lower)?_idx"/,
    delivery: 'cosmos',
  },
  {
    name: 'payments.lnHash of 3,000 characters (too large for its btree index)',
    make: (pubkey, marker) => [{ ...payment(pubkey, paymentId(marker), marker), lnHash: randomText(3000) }],
    reasonCode: 'refused',
    reason: /SQLSTATE 54000: index row size \d+ exceeds btree version \d maximum 2704 for index "payments_lnHash_idx"/,
    delivery: 'cosmos',
  },
  {
    name: 'an unknown type of 3,000 characters',
    make: (pubkey, marker) => [{ id: `odd-${marker}`, pubkey, type: randomText(3000), marker }],
    reasonCode: 'unmappable',
    reason: /^unknown document type \(3000 characters, sha256 [0-9a-f]{12}\)$/,
    delivery: 'cosmos',
  },
  {
    name: 'a pubkey of 2,000 characters (Cosmos allows partition key values up to 2 KB)',
    make: (_pubkey, marker) => [payment('f'.repeat(2000), paymentId(marker), marker)],
    reasonCode: 'unmappable',
    reason: /^payment: pubkey: expected a 64-character hex public key$/,
    delivery: 'cosmos',
  },
  {
    name: 'U+0000 inside the id',
    make: (pubkey, marker) => [payment(pubkey, `payment-\u0000-${marker}`, marker)],
    reasonCode: 'unmappable',
    reason: /^payment: id: contains a NUL character/,
    delivery: 'whole',
  },
  {
    name: 'U+0000 inside the pubkey',
    make: (pubkey, marker) => [payment(`${pubkey.slice(0, 63)}\u0000`, paymentId(marker), marker)],
    reasonCode: 'unmappable',
    reason: /^payment: pubkey: contains a NUL character/,
    delivery: 'whole',
  },
  {
    name: 'a lone UTF-16 surrogate in a key',
    make: (pubkey, marker) => [{ ...payment(pubkey, paymentId(marker), marker), 'note\uD800': 'x' }],
    reasonCode: 'unmappable',
    reason: /^payment: note\\ud800: contains a lone UTF-16 surrogate/,
    delivery: 'cosmos',
  },
  {
    name: 'a lone UTF-16 surrogate in a value',
    make: (pubkey, marker) => [{ ...payment(pubkey, paymentId(marker), marker), lnInvoice: 'lnbc\uDC00' }],
    reasonCode: 'unmappable',
    reason: /^payment: lnInvoice: contains a lone UTF-16 surrogate/,
    delivery: 'cosmos',
  },
  {
    name: 'two ids in one page that differ only in a lone surrogate',
    make: (pubkey, marker) => [payment(pubkey, `payment-${marker}-\uD800`, marker), payment(pubkey, `payment-${marker}-\uDBFF`, marker)],
    reasonCode: 'unmappable',
    reason: /^payment: id: contains a lone UTF-16 surrogate/,
    delivery: 'whole',
  },
  {
    name: 'JSON nested 2,000 levels deep',
    make: (pubkey, marker) => [{ ...payment(pubkey, paymentId(marker), marker), metadata: nested(2000) }],
    reasonCode: 'unmappable',
    reason: /^payment: metadata\.a\.a\.a\.a\.a….*: nested more than 128 levels deep/,
    delivery: 'cosmos',
  },
];

/** `count` valid payments of one user, with ids unique to `marker`. */
export function goodPayments(pubkey: string, marker: string, count: number): Doc[] {
  return Array.from({ length: count }, (_, n) => payment(pubkey, `payment-${marker}-good-${n}`));
}

/** A marker unique to one test. */
export function newMarker(): string {
  return randomBytes(6).toString('hex');
}
