import { type DocumentType, documentTypeNames, documentTypeOf } from '../../shared/domain/document-types.js';
import type { CosmosDocument } from '../../shared/domain/mapping.js';
import { generateDataset } from './generate-documents.js';
import { SeededRandom } from './seeded-random.js';

/**
 * Documents that cannot be mapped and must be quarantined, one per way real data goes wrong,
 * each built from a valid generated document with one thing broken. Tests use them to prove that
 * every one is quarantined with a reason naming the broken field, and that none is dropped.
 */

export type InvalidKind =
  | 'wrong-type'
  | 'unknown-enum'
  | 'missing-required'
  | 'not-an-integer'
  | 'out-of-range'
  | 'unknown-type'
  | 'bad-pubkey'
  | 'bad-id';

export interface InvalidDocument {
  kind: InvalidKind;
  /** The document type the valid original had. */
  type: DocumentType;
  /** The field the quarantine reason must name. */
  field: string;
  /** What is wrong, in words (for test names and the demo). */
  why: string;
  document: Record<string, unknown>;
}

interface Breakage {
  kind: InvalidKind;
  type: DocumentType;
  field: string;
  why: string;
  /** The field's new value; `undefined` removes it. */
  value: unknown;
}

const pubkeyLike = 'f'.repeat(63);

const breakages: readonly Breakage[] = [
  {
    kind: 'wrong-type',
    type: 'account',
    field: 'created',
    why: 'created written as an ISO date string',
    value: '2024-05-01T10:00:00.000Z',
  },
  { kind: 'wrong-type', type: 'account', field: 'subscription', why: 'subscription stored as a JSON string', value: '{"tier":"free"}' },
  { kind: 'wrong-type', type: 'account', field: 'subscription', why: 'subscription is an array', value: [{ tier: 'free' }] },
  { kind: 'wrong-type', type: 'account', field: 'tier', why: 'tier as a number', value: 2 },
  { kind: 'wrong-type', type: 'account', field: 'username', why: 'username as a number', value: 1234 },
  { kind: 'wrong-type', type: 'account-settings', field: 'socialSharing', why: 'socialSharing as the string "yes"', value: 'yes' },
  {
    kind: 'wrong-type',
    type: 'account-settings',
    field: 'xAccessToken',
    why: 'xAccessToken as an object',
    value: { token: 'oauth-token-in-an-object' },
  },
  { kind: 'wrong-type', type: 'backup-job', field: 'requested', why: 'requested as a numeric string', value: '1717171717171' },
  { kind: 'wrong-type', type: 'backup-job', field: 'metadata', why: 'metadata as a string', value: 'n/a' },
  { kind: 'wrong-type', type: 'payment', field: 'lnAmountSat', why: 'lnAmountSat as a numeric string', value: '21000' },
  { kind: 'wrong-type', type: 'payment', field: 'isPaid', why: 'isPaid as the string "true"', value: 'true' },
  { kind: 'wrong-type', type: 'payment', field: 'priceCents', why: 'priceCents null', value: null },
  {
    kind: 'wrong-type',
    type: 'notification-subscription',
    field: 'subscription',
    why: 'subscription stored as a JSON string',
    value: '{"endpoint":"https://push.example"}',
  },
  { kind: 'wrong-type', type: 'notification-settings', field: 'enabled', why: 'enabled as the string "false"', value: 'false' },
  { kind: 'wrong-type', type: 'notification-log', field: 'title', why: 'title as a number', value: 42 },
  { kind: 'unknown-enum', type: 'account', field: 'tier', why: 'tier "platinum"', value: 'platinum' },
  { kind: 'unknown-enum', type: 'account-settings', field: 'releaseChannel', why: 'releaseChannel "nightly"', value: 'nightly' },
  { kind: 'unknown-enum', type: 'backup-job', field: 'status', why: 'status "running"', value: 'running' },
  { kind: 'unknown-enum', type: 'backup-job', field: 'backupType', why: 'backupType "differential"', value: 'differential' },
  { kind: 'unknown-enum', type: 'payment', field: 'billingCycle', why: 'billingCycle "weekly"', value: 'weekly' },
  { kind: 'unknown-enum', type: 'payment', field: 'paymentType', why: 'paymentType "onchain"', value: 'onchain' },
  { kind: 'unknown-enum', type: 'payment', field: 'purpose', why: 'purpose "donation"', value: 'donation' },
  { kind: 'unknown-enum', type: 'payment', field: 'tier', why: 'tier "Premium" (wrong case)', value: 'Premium' },
  { kind: 'missing-required', type: 'account', field: 'created', why: 'no created', value: undefined },
  { kind: 'missing-required', type: 'account', field: 'tier', why: 'no tier', value: undefined },
  { kind: 'missing-required', type: 'account', field: 'subscription', why: 'no subscription', value: undefined },
  { kind: 'missing-required', type: 'account-settings', field: 'created', why: 'no created', value: undefined },
  { kind: 'missing-required', type: 'backup-job', field: 'requested', why: 'no requested', value: undefined },
  { kind: 'missing-required', type: 'backup-job', field: 'status', why: 'no status', value: undefined },
  { kind: 'missing-required', type: 'payment', field: 'lnHash', why: 'no lnHash', value: undefined },
  { kind: 'missing-required', type: 'payment', field: 'isPaid', why: 'no isPaid', value: undefined },
  { kind: 'missing-required', type: 'payment', field: 'expires', why: 'no invoice expiry', value: undefined },
  { kind: 'missing-required', type: 'notification-subscription', field: 'deviceKey', why: 'no deviceKey', value: undefined },
  { kind: 'missing-required', type: 'notification-settings', field: 'created', why: 'no created', value: undefined },
  { kind: 'missing-required', type: 'notification-log', field: 'created', why: 'no created', value: undefined },
  { kind: 'missing-required', type: 'notification-log', field: 'id', why: 'no id', value: undefined },
  {
    kind: 'not-an-integer',
    type: 'notification-log',
    field: 'created',
    why: 'created with a fraction of a millisecond',
    value: 1716059947810.5,
  },
  { kind: 'not-an-integer', type: 'payment', field: 'priceCents', why: 'priceCents 499.99', value: 499.99 },
  { kind: 'not-an-integer', type: 'payment', field: 'lnAmountSat', why: 'lnAmountSat 21000.5', value: 21000.5 },
  { kind: 'not-an-integer', type: 'account', field: 'expires', why: 'expires with a fraction', value: 1735689600000.25 },
  { kind: 'out-of-range', type: 'payment', field: 'priceCents', why: 'priceCents past a 32-bit integer', value: 2 ** 31 },
  { kind: 'out-of-range', type: 'payment', field: 'creditNanosUsd', why: 'creditNanosUsd past 2^53 (no longer exact)', value: 2 ** 53 + 2 },
  { kind: 'out-of-range', type: 'backup-job', field: 'completed', why: 'completed far past any safe integer', value: 1e300 },
  { kind: 'unknown-type', type: 'account', field: 'type', why: 'type "profile"', value: 'profile' },
  { kind: 'unknown-type', type: 'account', field: 'type', why: 'type "Account" (wrong case)', value: 'Account' },
  { kind: 'unknown-type', type: 'payment', field: 'type', why: 'no type', value: undefined },
  { kind: 'unknown-type', type: 'notification-log', field: 'type', why: 'type as a number', value: 7 },
  { kind: 'bad-pubkey', type: 'account', field: 'pubkey', why: 'pubkey one digit short', value: pubkeyLike },
  { kind: 'bad-pubkey', type: 'payment', field: 'pubkey', why: 'pubkey with a non-hex digit', value: `${pubkeyLike}g` },
  {
    kind: 'bad-pubkey',
    type: 'account-settings',
    field: 'pubkey',
    why: 'pubkey in npub (bech32) form',
    value: 'npub1sg6plzptd64u62a878hep2kev88swjh3tw00gjsfl8f237lmu63q0uf63m',
  },
  { kind: 'bad-pubkey', type: 'notification-log', field: 'pubkey', why: 'pubkey with surrounding spaces', value: ` ${pubkeyLike}a ` },
  { kind: 'bad-pubkey', type: 'backup-job', field: 'pubkey', why: 'no pubkey', value: undefined },
  { kind: 'bad-pubkey', type: 'notification-settings', field: 'pubkey', why: 'pubkey as a number', value: 12345 },
  { kind: 'bad-id', type: 'account', field: 'id', why: 'empty id', value: '' },
  { kind: 'bad-id', type: 'payment', field: 'id', why: 'id longer than 1,023 bytes', value: `payment-${'9'.repeat(1100)}` },
  { kind: 'bad-id', type: 'notification-subscription', field: 'id', why: 'id as a number', value: 12 },
];

/**
 * Every way to break a document listed above, applied to valid documents from a seeded dataset.
 * Settings documents carry linked-X secrets, so tests can check reasons never reveal them.
 */
export function* generateInvalidDocuments(seed = 1): Generator<InvalidDocument> {
  const originals = firstOfEachType(seed);
  const rng = new SeededRandom(seed);
  for (const breakage of breakages) {
    const document: Record<string, unknown> = structuredClone(originals[breakage.type]);
    if (breakage.type === 'account-settings') {
      document.xUserId ??= String(rng.int(1_000_000, 9_999_999));
      document.xAccessToken ??= `${String(document.xUserId)}-${rng.hex(40)}`;
      document.xAccessSecret ??= rng.hex(45);
    }
    if (breakage.value === undefined) Reflect.deleteProperty(document, breakage.field);
    else document[breakage.field] = structuredClone(breakage.value);
    const { kind, type, field, why } = breakage;
    yield { kind, type, field, why, document };
  }
}

function firstOfEachType(seed: number): Record<DocumentType, CosmosDocument> {
  const found: Partial<Record<DocumentType, CosmosDocument>> = {};
  let missing = documentTypeNames.length;
  for (const document of generateDataset({ users: Number.MAX_SAFE_INTEGER, seed, messy: false })) {
    const type = documentTypeOf(document.type);
    if (type === undefined || found[type]) continue;
    found[type] = document;
    if (--missing === 0) return found as Record<DocumentType, CosmosDocument>;
  }
  throw new Error('the dataset never produced every document type');
}
