import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateDataset, generateUser, randomPubkey } from '../../dev/sample-data/generate-documents.js';
import { generateInvalidDocuments } from '../../dev/sample-data/generate-invalid-documents.js';
import { SeededRandom } from '../../dev/sample-data/seeded-random.js';
import { type DocumentType, documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { type CosmosDocument, documentToRow, normalizeDocument, rowToDocument, systemProperties } from '../../shared/domain/mapping.js';

const seed = 2024;
const users = 400;
const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const earliest = Date.UTC(2022, 11, 1);
const latest = Date.UTC(2027, 11, 31);

function typeOf(document: CosmosDocument): DocumentType {
  const type = documentTypeOf(document.type);
  if (!type) throw new Error(`generated an unknown type ${document.type}`);
  return type;
}

function unmodeledFields(document: CosmosDocument): string[] {
  const modeled = documentTypes[typeOf(document)].schema.shape;
  return Object.keys(document).filter((key) => !Object.hasOwn(modeled, key));
}

function optionalColumns(type: DocumentType): string[] {
  const shape = documentTypes[type].schema.shape as Record<string, { safeParse(value: unknown): { success: boolean } }>;
  return Object.keys(documentTypes[type].columns).filter((column) => shape[column]?.safeParse(undefined).success);
}

/** How often each irregularity of real data occurs in a dataset. */
function census(documents: CosmosDocument[]) {
  const withAccount = new Set(documents.filter((d) => d.type === 'account').map((d) => d.pubkey));
  const usernames = new Map<string, Set<string>>();
  for (const d of documents) {
    if (d.type === 'account' && typeof d.username === 'string') {
      const spellings = usernames.get(d.username.toLowerCase()) ?? new Set<string>();
      usernames.set(d.username.toLowerCase(), spellings.add(d.username));
    }
  }
  const count = (predicate: (d: CosmosDocument) => boolean) => documents.filter(predicate).length;
  return {
    nullOptionals: count((d) => Object.keys(documentTypes[typeOf(d)].columns).some((column) => d[column] === null)),
    absentOptionals: count((d) => optionalColumns(typeOf(d)).some((column) => !Object.hasOwn(d, column))),
    unmodeledFields: count((d) => unmodeledFields(d).length > 0),
    nestedUnmodeledFields: count((d) => unmodeledFields(d).some((key) => typeof d[key] === 'object' && d[key] !== null)),
    unmodeledNulls: count((d) => unmodeledFields(d).some((key) => d[key] === null)),
    notificationSettingsUpdated: count((d) => d.type === 'notification-settings' && Object.hasOwn(d, 'updated')),
    legacyAccountIds: count((d) => d.type === 'account' && d.id === d.pubkey),
    missingModified: count((d) => 'modified' in documentTypes[typeOf(d)].columns && !Object.hasOwn(d, 'modified')),
    caseCollidingUsernames: [...usernames.values()].filter((spellings) => spellings.size > 1).length,
    settingsWithModified: count((d) => typeOf(d) === 'account-settings' && Object.hasOwn(d, 'modified')),
    settings: count((d) => typeOf(d) === 'account-settings'),
    legacyUserSettings: count((d) => d.type === 'user-settings'),
    secretXFields: count((d) => typeof d.xAccessToken === 'string' || typeof d.xRequestToken === 'string'),
    orphanPubkeys: new Set(documents.filter((d) => !withAccount.has(d.pubkey)).map((d) => d.pubkey)).size,
    creditsPast2To31: count((d) => d.type === 'payment' && typeof d.creditNanosUsd === 'number' && d.creditNanosUsd > 2 ** 31),
    grokTopUps: count((d) => d.purpose === 'grok_topup'),
  };
}

describe('generateDataset', () => {
  const messy = [...generateDataset({ users, seed })];
  const clean = [...generateDataset({ users, seed, messy: false })];

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is deterministic: the same seed gives the same documents, another seed others', () => {
    expect([...generateDataset({ users, seed })]).toStrictEqual(messy);
    const other = [...generateDataset({ users: 20, seed: seed + 1 })];
    expect(other.map((d) => d.pubkey)).not.toStrictEqual(messy.slice(0, other.length).map((d) => d.pubkey));
  });

  it('generates each user on its own, so a smaller dataset is a prefix of a larger one', () => {
    const small = [...generateDataset({ users: 50, seed })];
    expect(messy.slice(0, small.length)).toStrictEqual(small);
    const user50 = generateUser({ seed, index: 50, messy: true });
    expect(messy.slice(small.length, small.length + user50.length)).toStrictEqual(user50);
  });

  it('uses neither Math.random nor the clock', () => {
    const random = vi.spyOn(Math, 'random');
    const now = vi.spyOn(Date, 'now');
    expect([...generateDataset({ users: 30, seed: 9 })].length).toBeGreaterThan(30);
    expect(random).not.toHaveBeenCalled();
    expect(now).not.toHaveBeenCalled();
  });

  it.each([
    ['messy', messy],
    ['clean', clean],
  ])('gives %s documents that all map, and come back from their rows as they went in', (_, documents) => {
    const types = new Set<DocumentType>();
    for (const document of documents) {
      const mapped = documentToRow(document);
      if (!mapped.ok) throw new Error(`${document.id}: ${mapped.reason}`);
      expect(mapped.type).toBe(typeOf(document));
      expect(rowToDocument(mapped.type, mapped.row)).toEqual(normalizeDocument(document));
      types.add(mapped.type);
    }
    expect(types.size).toBe(7);
  });

  it('includes every irregularity of real data when messy', () => {
    const found = census(messy);
    for (const kind of [
      'nullOptionals',
      'absentOptionals',
      'unmodeledFields',
      'nestedUnmodeledFields',
      'unmodeledNulls',
      'notificationSettingsUpdated',
      'legacyAccountIds',
      'missingModified',
      'caseCollidingUsernames',
      'legacyUserSettings',
      'secretXFields',
      'orphanPubkeys',
      'creditsPast2To31',
      'grokTopUps',
    ] as const) {
      expect(found[kind], kind).toBeGreaterThan(0);
    }
  });

  it('keeps clean data to the model, apart from what is normal (orphans, the legacy type, secrets)', () => {
    expect(census(clean)).toMatchObject({
      nullOptionals: 0,
      unmodeledFields: 0,
      notificationSettingsUpdated: 0,
      legacyAccountIds: 0,
      missingModified: 0,
      caseCollidingUsernames: 0,
    });
    const found = census(clean);
    for (const kind of ['absentOptionals', 'legacyUserSettings', 'secretXFields', 'orphanPubkeys', 'creditsPast2To31'] as const) {
      expect(found[kind], kind).toBeGreaterThan(0);
    }
  });

  it.each([
    ['messy', messy],
    ['clean', clean],
  ])('never stores modified on settings documents (%s)', (_, documents) => {
    const found = census(documents);
    expect(found.settings).toBeGreaterThan(0);
    expect(found.settingsWithModified).toBe(0);
  });

  it('leaves about 3% of users without an account', () => {
    const pubkeys = new Set(messy.map((d) => d.pubkey));
    const share = census(messy).orphanPubkeys / pubkeys.size;
    expect(pubkeys.size).toBe(users);
    expect(share).toBeGreaterThan(0.005);
    expect(share).toBeLessThan(0.08);
  });

  it('writes ids in the formats the service uses, unique across the dataset', () => {
    expect(new Set(messy.map((d) => d.id)).size).toBe(messy.length);
    for (const d of messy) {
      expect(d.pubkey).toMatch(/^[0-9a-f]{64}$/);
      switch (typeOf(d)) {
        case 'account':
          expect([`account-${d.pubkey}`, d.pubkey]).toContain(d.id);
          break;
        case 'account-settings':
          expect(d.id).toBe(`account-settings-${d.pubkey}`);
          break;
        case 'backup-job':
          expect(d.id).toMatch(uuidV4);
          break;
        case 'payment':
          expect(d.id.slice(0, 'payment-'.length)).toBe('payment-');
          expect(d.id.slice('payment-'.length)).toMatch(uuidV4);
          break;
        case 'notification-subscription': {
          const keys = (d.subscription as { keys: { p256dh: string; auth: string } }).keys;
          expect(d.deviceKey).toBe(keys.p256dh);
          expect(d.id).toBe(`notification-subscription-${d.pubkey}-${keys.p256dh}`);
          break;
        }
        case 'notification-settings':
          expect(d.id).toBe(`notification-settings-${d.pubkey}`);
          break;
        case 'notification-log':
          expect(d.id).toMatch(new RegExp(`^${d.pubkey}-${String(d.created)}-[0-9a-z]{9}$`));
          break;
      }
    }
  });

  // The checks over every document collect what is wrong and assert once: one `expect` per value made
  // these two tests take seconds, and the list names every offender rather than the first.
  it('writes timestamps as whole milliseconds around 2023-2026', () => {
    let checked = 0;
    const wrong: string[] = [];
    for (const d of messy) {
      for (const [column, kind] of Object.entries(documentTypes[typeOf(d)].columns)) {
        const value = d[column];
        if (kind !== 'timestamp' || value === undefined || value === null) continue;
        if (!Number.isSafeInteger(value) || (value as number) < earliest || (value as number) > latest) {
          wrong.push(`${d.id}.${column}: ${JSON.stringify(value)}`);
        }
        checked++;
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(messy.length);
  });

  it('carries no Cosmos system properties (Cosmos adds its own on write)', () => {
    const carrying = messy.filter((d) => systemProperties.some((property) => Object.hasOwn(d, property)));
    expect(carrying.map((d) => d.id)).toEqual([]);
  });

  it('streams: documents come out one at a time from an endless dataset', () => {
    // Laziness is what is proved: a generator that built the dataset first would never yield at all.
    let count = 0;
    for (const document of generateDataset({ users: Number.MAX_SAFE_INTEGER, seed })) {
      if (typeof document.id === 'string') count++;
      if (count === 10_000) break;
    }
    expect(count).toBe(10_000);
  });
});

describe('randomPubkey', () => {
  it('gives valid lowercase 64-hex keys, the same for the same seed', () => {
    const first = randomPubkey(new SeededRandom(5));
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(randomPubkey(new SeededRandom(5))).toBe(first);
    expect(randomPubkey(new SeededRandom(6))).not.toBe(first);
  });
});

describe('generateInvalidDocuments', () => {
  it('is deterministic per seed and breaks documents of that seed', () => {
    const first = [...generateInvalidDocuments(3)];
    expect([...generateInvalidDocuments(3)]).toStrictEqual(first);
    const other = [...generateInvalidDocuments(4)];
    expect(other.map((entry) => entry.document.id)).not.toStrictEqual(first.map((entry) => entry.document.id));
  });

  it('breaks exactly one field: putting back the original value makes the document valid', () => {
    const entries = [...generateInvalidDocuments(3)];
    for (const entry of entries) {
      // A sibling broken elsewhere still holds this field's original value (or its absence).
      const sibling = entries.find((other) => other.type === entry.type && other.field !== entry.field);
      expect(sibling, entry.why).toBeDefined();
      const repaired: Record<string, unknown> = { ...entry.document, [entry.field]: sibling?.document[entry.field] };
      expect(documentToRow(repaired).ok, `${entry.type}: ${entry.why}`).toBe(true);
    }
  });
});
