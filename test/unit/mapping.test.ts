import { describe, expect, it } from 'vitest';
import { generateInvalidDocuments, type InvalidKind } from '../../dev/sample-data/generate-invalid-documents.js';
import { documentTypeNames, documentTypes } from '../../shared/domain/document-types.js';
import { documentToRow, normalizeDocument, type Row, rowToDocument } from '../../shared/domain/mapping.js';
import { findUnstorable } from '../../shared/domain/storable-json.js';
import { reasonFields } from '../support/arbitraries.js';

const pubkey = '3bf0c63fcb93463407af97a5e5ee64fa883d107ef9e558472c4eb9aaaefa459d';
const secret = 'SECRET-do-not-log-7f3a9c';

function mapOk(document: unknown): Row {
  const mapped = documentToRow(document);
  if (!mapped.ok) throw new Error(`expected the document to map, got: ${mapped.reason}`);
  return mapped.row;
}

function reasonOf(document: unknown): string {
  const mapped = documentToRow(document);
  if (mapped.ok) throw new Error('expected the document to be refused');
  return mapped.reason;
}

const settings = {
  id: `account-settings-${pubkey}`,
  type: 'account-settings',
  pubkey,
  releaseChannel: 'beta',
  socialSharing: true,
  created: 1_717_171_717_171,
};

const account = {
  id: `account-${pubkey}`,
  type: 'account',
  pubkey,
  username: 'quietotter7',
  tier: 'premium',
  subscription: {
    tier: 'premium',
    expiryDate: null,
    price: { priceCents: 1000, currency: 'USD' },
    entitlements: { notificationsPerDay: 500, features: ['BASIC_WEBPUSH'] },
  },
  created: 1_700_000_000_000,
  modified: 1_700_000_100_000,
};

const payment = {
  id: 'payment-6f1c3c1e-8a8b-4e3e-9a51-1f2b3c4d5e6f',
  type: 'payment',
  pubkey,
  paymentType: 'ln',
  lnHash: 'ab'.repeat(32),
  lnInvoice: 'lnbc50000n1p...',
  lnAmountSat: 5000,
  tier: 'free',
  billingCycle: 'one_time',
  priceCents: 500,
  isPaid: true,
  paid: 1_750_000_060_000,
  expires: 1_750_000_600_000,
  created: 1_750_000_000_000,
  modified: 1_750_000_060_000,
  purpose: 'grok_topup',
  creditNanosUsd: 5_000_000_000,
  applied: true,
};

describe('documents that must be quarantined', () => {
  const invalid = [...generateInvalidDocuments(7)];

  it('cover every kind of breakage', () => {
    const kinds: InvalidKind[] = [
      'wrong-type',
      'unknown-enum',
      'missing-required',
      'not-an-integer',
      'out-of-range',
      'unknown-type',
      'bad-pubkey',
      'bad-id',
    ];
    expect(new Set(invalid.map((entry) => entry.kind))).toStrictEqual(new Set(kinds));
    expect(new Set(invalid.map((entry) => entry.type))).toStrictEqual(new Set(documentTypeNames));
  });

  it.each(invalid.map((entry) => [`${entry.type} with ${entry.why}`, entry] as const))('refuses %s, naming the field', (_, entry) => {
    const mapped = documentToRow(entry.document);
    expect(mapped.ok).toBe(false);
    if (mapped.ok) return;
    expect(reasonFields(mapped.reason)).toStrictEqual([entry.field]);
    if (entry.kind !== 'unknown-type') expect(mapped.type).toBe(entry.type);
    for (const field of documentTypes[entry.type].secretFields) {
      const value = entry.document[field];
      if (typeof value === 'string') expect(mapped.reason).not.toContain(value);
    }
  });

  it('says when a type is there but is not a string, rather than calling it missing', () => {
    expect(reasonOf({ ...account, type: 7 })).toBe('unknown document type (not a string: number)');
    expect(reasonOf({ ...account, type: undefined })).toBe('unknown document type (missing)');
  });

  it("refuses an id longer than Cosmos DB's 1,023 bytes, counted in UTF-8 whatever its length in characters", () => {
    // '€' is 3 bytes: 341 of them are 1,023 bytes, 342 are 1,026; '😀' is 4 bytes in 2 UTF-16 units.
    for (const id of ['a'.repeat(1023), '€'.repeat(341), `${'😀'.repeat(255)}abc`]) expect(mapOk({ ...account, id }).id).toBe(id);
    for (const id of ['a'.repeat(1024), '€'.repeat(342), `${'😀'.repeat(255)}abcd`]) {
      expect(reasonOf({ ...account, id })).toBe('account: id: expected an id of at most 1023 bytes');
    }
  });

  it('refuses anything that is not a JSON object', () => {
    for (const value of [null, 'account', 42, [account]]) expect(reasonOf(value)).toBe('not a JSON object');
  });
});

describe('secrets in refused documents', () => {
  const linked = {
    ...settings,
    xUserId: '1234567890',
    xUsername: 'otter',
    xAccessToken: secret,
    xAccessSecret: `${secret}-access`,
    xRequestToken: `${secret}-request`,
    xRequestSecret: `${secret}-request-secret`,
  };

  it('never appear in the reason when another field is broken', () => {
    const reason = reasonOf({ ...linked, socialSharing: 'yes', created: '2024-06-01', releaseChannel: 'nightly' });
    expect(reasonFields(reason)).toStrictEqual(['created', 'releaseChannel', 'socialSharing']);
    expect(reason).not.toContain(secret);
  });

  it('never appear in the reason when the secret field itself has the wrong type', () => {
    const reason = reasonOf({ ...linked, xAccessToken: { oauth_token: secret }, xAccessSecret: [secret] });
    expect(reasonFields(reason)).toStrictEqual(['xAccessSecret', 'xAccessToken']);
    expect(reason).not.toContain(secret);
  });

  it('never appear for a push subscription, whose keys are its secret', () => {
    const reason = reasonOf({
      id: `notification-subscription-${pubkey}-B${secret}`,
      type: 'notification-subscription',
      pubkey,
      subscription: { endpoint: 'https://fcm.googleapis.com/fcm/send/x', keys: { p256dh: `B${secret}`, auth: secret } },
      created: 'yesterday',
    });
    expect(reasonFields(reason)).toStrictEqual(['created', 'deviceKey']);
    expect(reason).not.toContain(secret);
  });
});

describe('round trips', () => {
  it('keeps the legacy user-settings type, and the current one', () => {
    for (const type of ['user-settings', 'account-settings']) {
      const row = mapOk({ ...settings, type });
      expect(row.type).toBe(type);
      expect(rowToDocument('account-settings', row).type).toBe(type);
    }
  });

  it('stores no type column for a type without aliases, and puts the type back on the way out', () => {
    const row = mapOk(account);
    expect(row).not.toHaveProperty('type');
    expect(rowToDocument('account', row).type).toBe('account');
  });

  it('keeps unmodeled fields, nested and null ones included, in extra and gives them back', () => {
    const document = {
      ...account,
      profile: { name: 'Åsa 🌋', relays: { 'wss://nos.lol': { read: true, write: null } } },
      flags: ['beta', { source: 'ios' }],
      deletedAt: null,
      constructor: 'a field, not the Object constructor',
    };
    const row = mapOk(document);
    expect(row.extra).toEqual({ profile: document.profile, flags: document.flags, deletedAt: null, constructor: document.constructor });
    expect(rowToDocument('account', row)).toEqual(normalizeDocument(document));
    expect(rowToDocument('account', row).deletedAt).toBeNull();
  });

  it('keeps a field named __proto__ as data, at the top level and inside a JSON column', () => {
    // Only JSON.parse makes such keys own properties, as it does for documents read from Cosmos.
    const document = JSON.parse(
      `{"id":"account-${pubkey}","type":"account","pubkey":"${pubkey}","tier":"free","created":1700000000000,` +
        `"subscription":{"tier":"free","__proto__":{"injected":true}},"__proto__":{"polluted":true}}`,
    ) as Record<string, unknown>;
    const back = rowToDocument('account', JSON.parse(JSON.stringify(mapOk(document))) as Row);
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ polluted: true });
    expect(JSON.stringify(back.subscription)).toContain('"__proto__":{"injected":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps notification-settings fields callers spread into the document, like updated', () => {
    const document = {
      id: `notification-settings-${pubkey}`,
      type: 'notification-settings',
      pubkey,
      enabled: true,
      filters: [],
      created: 1_720_000_000_000,
      modified: 1_720_000_500_000,
      updated: 1_720_000_400_000,
    };
    const row = mapOk(document);
    expect(row.extra).toEqual({ updated: 1_720_000_400_000 });
    expect(row.filters).toEqual([]);
    expect(rowToDocument('notification-settings', row)).toEqual(document);
  });

  it('treats a null optional field and an absent one the same, and leaves nulls inside JSON alone', () => {
    const { username: _username, ...withoutUsername } = account;
    const withNull = { ...account, username: null, lastLoginDate: null };
    expect(mapOk(withNull)).toEqual(mapOk(withoutUsername));
    expect(mapOk(withNull).username).toBeNull();
    const back = rowToDocument('account', mapOk(withNull));
    expect(back).not.toHaveProperty('username');
    expect(back).not.toHaveProperty('lastLoginDate');
    expect(back).toEqual(normalizeDocument(withNull));
    expect(normalizeDocument(withNull)).toEqual(normalizeDocument(withoutUsername));
    expect((back.subscription as Record<string, unknown>).expiryDate).toBeNull();
  });

  it('keeps creditNanosUsd past 2^31 exactly, however the driver returns a BIGINT', () => {
    for (const credit of [5_000_000_000, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      const row = mapOk({ ...payment, creditNanosUsd: credit });
      expect(row.creditNanosUsd).toBe(credit);
      for (const stored of [credit, String(credit), BigInt(credit)]) {
        expect(rowToDocument('payment', { ...row, creditNanosUsd: stored }).creditNanosUsd).toBe(credit);
      }
    }
  });

  it('gives timestamps back as numbers of milliseconds from BigInt or text columns', () => {
    const row = mapOk(payment);
    const fromPrisma = rowToDocument('payment', {
      ...row,
      created: BigInt(payment.created),
      paid: BigInt(payment.paid),
      lnAmountSat: 5000n,
    });
    const fromPg = rowToDocument('payment', { ...row, created: String(payment.created), expires: String(payment.expires) });
    for (const document of [fromPrisma, fromPg]) {
      for (const field of ['created', 'paid', 'expires', 'modified', 'lnAmountSat']) expect(typeof document[field]).toBe('number');
      expect(document).toEqual(payment);
    }
  });

  it('keeps _ts and _etag as the copied version and drops the other system properties', () => {
    const row = mapOk({
      ...account,
      _rid: 'AbCdEf==',
      _self: 'dbs/x/colls/y/docs/z/',
      _etag: '"0000a1b2-0000-0000-0000-65f0a1b20000"',
      _attachments: 'attachments/',
      _ts: 1_700_000_100,
      _lsn: 12,
    });
    expect(row.cosmosTs).toBe(1_700_000_100);
    expect(row.cosmosEtag).toBe('"0000a1b2-0000-0000-0000-65f0a1b20000"');
    expect(row.cosmosLsn).toBe(12);
    expect(row.extra).toEqual({});
    expect(rowToDocument('account', row)).toEqual(account);
  });

  it('has no position for a document read without the change feed (no _lsn)', () => {
    expect(mapOk({ ...account, _ts: 5 }).cosmosLsn).toBeNull();
  });

  it('keeps as user data a field named like a system property that holds what Cosmos never puts there', () => {
    const user = { _attachments: { receipts: ['r1'] }, _self: 42, _lsn: -3, _ts: 'yesterday', _etag: null, _rid: [1], _custom: 'kept' };
    const row = mapOk({ ...account, ...user });
    expect(row.extra).toEqual(user);
    expect(row.cosmosTs).toBe(0);
    expect(row.cosmosLsn).toBeNull();
    expect(row.cosmosEtag).toBeNull();
    expect(rowToDocument('account', row)).toEqual({ ...account, ...user });
    // Verification compares what the mapping keeps: such fields are compared, Cosmos's own are not.
    expect(normalizeDocument({ ...account, ...user, _ts: 7, _rid: 'x' })).toEqual({ ...account, ...user, _ts: undefined, _rid: undefined });
  });
});

describe('the descriptors', () => {
  it.each(documentTypeNames)('%s: every schema field besides id, pubkey and type has a column kind', (type) => {
    const { schema, columns } = documentTypes[type];
    expect(Object.keys(schema.shape).sort()).toStrictEqual([...Object.keys(columns), 'id', 'pubkey', 'type'].sort());
  });
});

describe('NUL characters, which PostgreSQL cannot store in text or jsonb', () => {
  const base = { id: 'notification-log-1', pubkey: 'a'.repeat(64), type: 'notification-log', created: 1 };

  it('refuses a document with U+0000 in a modeled field, an extra field or a key, naming where', () => {
    expect(documentToRow({ ...base, title: 'bad\u0000title' })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('title: contains a NUL'),
    });
    expect(documentToRow({ ...base, note: { deep: ['x', 'y\u0000'] } })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('note.deep[1]'),
    });
    const byKey = documentToRow({ ...base, ['k\u0000']: 1 });
    expect(byKey.ok).toBe(false);
    if (!byKey.ok) expect(byKey.reason).not.toContain('\u0000');
  });

  it('keeps a literal backslash-u0000 text, which is ordinary data', () => {
    expect(documentToRow({ ...base, title: 'see \\u0000 here' }).ok).toBe(true);
  });

  it('finds the first NUL anywhere (the quarantine then keeps the document as JSON text), and none in ordinary data', () => {
    expect(findUnstorable({ a: 'x', b: [1, { c: 'y\u0000' }] })).toEqual({ kind: 'nul', path: 'b[1].c' });
    expect(findUnstorable({ a: { ['k\u0000']: 1 } })).toEqual({ kind: 'nul', path: 'a.k\\u0000' });
    expect(findUnstorable('\u0000')).toEqual({ kind: 'nul', path: '(document)' });
    expect(findUnstorable({ a: 'see \\u0000 here', n: null, list: [1, true, 'z'] })).toBeUndefined();
  });
});
