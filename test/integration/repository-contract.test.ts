import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentConflictError, DocumentNotFoundError, DocumentValidationError, InvalidInputError } from '../../shared/core/errors.js';
import { creationField } from '../../shared/domain/creation-field.js';
import { type DocumentsByType, type DocumentType, documentTypeNames } from '../../shared/domain/document-types.js';
import type { DocumentQuery, DocumentRepository, Repositories } from '../../shared/domain/repository-contract.js';
import { type RepositoryBackend, repositoryBackends } from '../support/repository-backends.js';

/**
 * One contract, run unchanged against both implementations: whatever the service can observe through
 * a repository must be the same on Cosmos and on PostgreSQL.
 */

describe.each(repositoryBackends)('$name repositories', ({ open }) => repositoryContract(open));

type AnyDocument = DocumentsByType[DocumentType];

const base = 1_732_000_000_000;
const newPubkey = () => randomBytes(32).toString('hex');
const token = () => randomBytes(4).toString('hex');

/** A valid document of each type for `pubkey`, with every interesting kind of value filled in. */
function sample<T extends DocumentType>(type: T, pubkey: string, created = base): DocumentsByType[T] {
  const deviceKey = `BP${token()}`;
  const documents: { [K in DocumentType]: DocumentsByType[K] } = {
    account: {
      id: `account-${pubkey}`,
      pubkey,
      type: 'account',
      username: `user-${token()}`,
      tier: 'premium',
      subscription: {
        tier: 'premium',
        price: { priceCents: 999, currency: 'USD' },
        entitlements: { notificationsPerDay: 50, features: ['backup'] },
      },
      expires: created + 365 * 86_400_000,
      created,
      modified: created + 1,
    },
    'account-settings': {
      id: `account-settings-${pubkey}`,
      pubkey,
      type: 'account-settings',
      releaseChannel: 'beta',
      socialSharing: true,
      created,
      xUserId: '1234',
      xAccessToken: `tok-${token()}`,
    },
    'backup-job': {
      id: randomUUID(),
      pubkey,
      type: 'backup-job',
      status: 'pending',
      backupType: 'full',
      requested: created,
      metadata: { originalSize: 3_000_000_000, fileCount: 12, note: 'any other key' },
    },
    payment: {
      id: `payment-${randomUUID()}`,
      pubkey,
      type: 'payment',
      paymentType: 'ln',
      lnHash: `hash-${token()}`,
      lnInvoice: `lnbc${token()}`,
      lnAmountSat: 2 ** 40 + 3,
      tier: 'premium',
      billingCycle: 'yearly',
      priceCents: 9_999,
      isPaid: false,
      expires: created + 3_600_000,
      created,
      modified: created,
      purpose: 'grok_topup',
      creditNanosUsd: 2 ** 52 + 1,
    },
    'notification-subscription': {
      id: `notification-subscription-${pubkey}-${deviceKey}`,
      pubkey,
      type: 'notification-subscription',
      subscription: { endpoint: `https://push.example/${token()}`, keys: { p256dh: deviceKey, auth: token() } },
      deviceKey,
      created,
      modified: created,
    },
    'notification-settings': {
      id: `notification-settings-${pubkey}`,
      pubkey,
      type: 'notification-settings',
      enabled: true,
      filters: { kinds: [1, 7] },
      settings: ['quiet-hours', { from: 22, to: 7 }],
      created,
      modified: created,
      updated: created + 5,
    },
    'notification-log': {
      id: `${pubkey}-${created}-${token()}`,
      pubkey,
      type: 'notification-log',
      title: 'New follower',
      body: 'Someone followed you',
      created,
      modified: created,
    },
  };
  return documents[type];
}

/** A change to a modeled field of each type, for update and upsert. */
const changes: { [K in DocumentType]: Partial<DocumentsByType[K]> } = {
  account: { tier: 'basic', lastLoginDate: base + 10 },
  'account-settings': { socialSharing: false, releaseChannel: 'alpha' },
  'backup-job': { status: 'completed', completed: base + 60_000, resultUrl: 'https://backups.example/1' },
  payment: { isPaid: true, paid: base + 30_000, applied: true },
  'notification-subscription': { modified: base + 99 },
  'notification-settings': { enabled: false, filters: null },
  'notification-log': { title: 'Changed', content: 'more' },
};

const perUserTypes = ['account', 'account-settings', 'notification-settings'] as const;

function repositoryContract(open: () => Promise<RepositoryBackend>) {
  let handle: RepositoryBackend;
  let repositories: Repositories;
  beforeAll(async () => {
    handle = await open();
    repositories = handle.repositories;
  });
  afterAll(() => handle?.close());

  const repositoryOf = (type: DocumentType): DocumentRepository => repositories[type];

  describe.each(documentTypeNames)('%s', (type) => {
    it('creates a document and reads it back by id, shaped like the Cosmos document', async () => {
      const document = sample(type, newPubkey());
      const repository = repositoryOf(type);
      const created = await repository.create(document);
      expect(created).toEqual(document);
      const read = await repository.getById(document.id, document.pubkey);
      expect(read).toEqual(document);
      expect(read?.type).toBe(type);
      expect(Object.keys(read ?? {}).filter((key) => key.startsWith('_'))).toEqual([]);
      expect(repository.type).toBe(type);
    });

    it('refuses to create a document whose id already exists', async () => {
      const document = sample(type, newPubkey());
      const repository = repositoryOf(type);
      await repository.create(document);
      const again = { ...document, created: base + 1 };
      await expect(repository.create(again)).rejects.toBeInstanceOf(DocumentConflictError);
      expect(await repository.getById(document.id, document.pubkey)).toEqual(document);
    });

    it('updates an existing document, replacing it whole', async () => {
      const document = sample(type, newPubkey());
      const repository = repositoryOf(type);
      await repository.create({ ...document, leftover: 'only in the first version' });
      const changed = { ...document, ...changes[type] } as AnyDocument;
      const updated = await repository.update(changed);
      const expected = withoutNulls(changed);
      expect(updated).toEqual(expected);
      expect(await repository.getById(document.id, document.pubkey)).toEqual(expected);
    });

    it('fails to update a document that does not exist', async () => {
      const document = sample(type, newPubkey());
      const error = await repositoryOf(type)
        .update(document)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DocumentNotFoundError);
      expect(error).toMatchObject({ type, id: document.id });
      expect(await repositoryOf(type).getById(document.id, document.pubkey)).toBeNull();
    });

    it('upserts: creates when absent, replaces when present', async () => {
      const document = sample(type, newPubkey());
      const repository = repositoryOf(type);
      expect(await repository.upsert(document)).toEqual(document);
      expect(await repository.getById(document.id, document.pubkey)).toEqual(document);
      const changed = { ...document, ...changes[type] } as AnyDocument;
      await repository.upsert(changed);
      expect(await repository.getById(document.id, document.pubkey)).toEqual(withoutNulls(changed));
    });

    it('deletes: true once, then the document is gone and a second delete is false', async () => {
      const document = sample(type, newPubkey());
      const repository = repositoryOf(type);
      await repository.create(document);
      expect(await repository.delete(document.id, document.pubkey)).toBe(true);
      expect(await repository.getById(document.id, document.pubkey)).toBeNull();
      expect(await repository.delete(document.id, document.pubkey)).toBe(false);
    });

    it("lists one user's documents, oldest first, and never another user's", async () => {
      const [mine, theirs] = [newPubkey(), newPubkey()];
      const repository = repositoryOf(type);
      const isPerUser = (perUserTypes as readonly string[]).includes(type);
      const my = isPerUser ? [sample(type, mine, base)] : [sample(type, mine, base + 2), sample(type, mine, base + 1)];
      for (const document of my) await repository.create(document);
      await repository.create(sample(type, theirs, base));
      const listed = await repository.listByPubkey(mine);
      const field = creationField[type];
      expect(listed).toEqual([...my].sort((a, b) => Number(a[field as keyof AnyDocument]) - Number(b[field as keyof AnyDocument])));
      expect(await repository.listByPubkey(newPubkey())).toEqual([]);
    });

    it('counts every document of its type', async () => {
      const repository = repositoryOf(type);
      const before = await repository.count();
      await repository.create(sample(type, newPubkey()));
      await repository.create(sample(type, newPubkey()));
      expect(await repository.count()).toBe(before + 2);
      const other = repositoryOf(documentTypeNames.find((name) => name !== type) ?? type);
      await other.create(sample(other.type, newPubkey()));
      expect(await repository.count()).toBe(before + 2);
    });

    it('keeps fields the model does not name, nested values and nulls included', async () => {
      const document = { ...sample(type, newPubkey()), clientVersion: '3.1', flags: { beta: true, list: [1, 'two', null] }, cleared: null };
      const repository = repositoryOf(type);
      await repository.create(document);
      expect(await repository.getById(document.id, document.pubkey)).toEqual(document);
    });

    it('treats a null optional field like an absent one', async () => {
      const document = sample(type, newPubkey());
      const repository = repositoryOf(type);
      const optional = optionalFieldOf(type);
      await repository.create({ ...document, [optional]: null });
      const read = await repository.getById(document.id, document.pubkey);
      expect(read).not.toHaveProperty(optional);
      expect(read).toEqual(withoutNulls({ ...document, [optional]: null }));
    });

    it('rejects an invalid document with the reason, without writing it', async () => {
      const document = sample(type, newPubkey());
      const repository = repositoryOf(type);
      const invalid = { ...document, [creationField[type]]: 'yesterday' };
      const writes = [
        (d: AnyDocument) => repository.create(d),
        (d: AnyDocument) => repository.update(d),
        (d: AnyDocument) => repository.upsert(d),
      ];
      for (const write of writes) {
        const error = await write(invalid).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(DocumentValidationError);
        expect((error as Error).message).toContain(creationField[type]);
        expect((error as Error).message).not.toContain('yesterday');
      }
      expect(await repository.getById(document.id, document.pubkey)).toBeNull();
    });

    it("rejects another type's document, and does not find another type's id", async () => {
      const otherType = documentTypeNames.find((name) => name !== type) ?? type;
      const foreign = sample(otherType, newPubkey());
      const error = await repositoryOf(type)
        .create(foreign)
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DocumentValidationError);
      await repositoryOf(otherType).create(foreign);
      expect(await repositoryOf(type).getById(foreign.id, foreign.pubkey)).toBeNull();
      expect(await repositoryOf(type).delete(foreign.id, foreign.pubkey)).toBe(false);
      expect(await repositoryOf(otherType).getById(foreign.id, foreign.pubkey)).toEqual(foreign);
    });

    it("does not find a document under another user's pubkey", async () => {
      const document = sample(type, newPubkey());
      await repositoryOf(type).create(document);
      expect(await repositoryOf(type).getById(document.id, newPubkey())).toBeNull();
    });
  });

  describe.each(perUserTypes)('%s (one per user)', (type) => {
    it('finds the document by pubkey, and nothing for an unknown pubkey', async () => {
      const document = sample(type, newPubkey());
      await repositories[type].create(document as never);
      expect(await repositories[type].getByPubkey(document.pubkey)).toEqual(document);
      expect(await repositories[type].getByPubkey(newPubkey())).toBeNull();
    });

    it('finds a document stored under a legacy id', async () => {
      const pubkey = newPubkey();
      const legacy = { ...sample(type, pubkey), id: `legacy-${token()}` };
      await repositories[type].create(legacy as never);
      expect(await repositories[type].getByPubkey(pubkey)).toEqual(legacy);
      expect(await repositories[type].getById(legacy.id, pubkey)).toEqual(legacy);
    });
  });

  describe.each(perUserTypes)('%s (one per user): writes', (type) => {
    it('upsert under the usual id replaces a document stored under a legacy id: one document remains', async () => {
      const pubkey = newPubkey();
      const current = sample(type, pubkey);
      await repositories[type].create({ ...current, id: `legacy-${token()}`, created: base - 1 } as never);
      expect(await repositories[type].upsert(current as never)).toEqual(current);
      expect(await repositories[type].listByPubkey(pubkey)).toEqual([current]);
      expect(await repositories[type].getByPubkey(pubkey)).toEqual(current);
    });

    it('deleteByPubkey removes the document whatever its id, says which, and is empty when there is none', async () => {
      const pubkey = newPubkey();
      const legacy = { ...sample(type, pubkey), id: `legacy-${token()}` };
      await repositories[type].create(legacy as never);
      const other = sample(type, newPubkey());
      await repositories[type].create(other as never);
      expect(await repositories[type].deleteByPubkey(pubkey)).toEqual([legacy.id]);
      expect(await repositories[type].getByPubkey(pubkey)).toBeNull();
      expect(await repositories[type].deleteByPubkey(pubkey)).toEqual([]);
      expect(await repositories[type].getByPubkey(other.pubkey)).toEqual(other);
    });
  });

  describe('queries', () => {
    const find = (store: Repositories, query: DocumentQuery<'backup-job'>) => store['backup-job'].find(query);
    const ids = (documents: Array<{ id: string }>) => documents.map((document) => document.id);

    /** An empty store with a few backup jobs of two users. */
    async function jobs() {
      const store = await handle.fresh();
      const [alice, bob] = [newPubkey(), newPubkey()];
      const job = (pubkey: string, requested: number, fields: Partial<DocumentsByType['backup-job']> = {}) => ({
        ...sample('backup-job', pubkey, requested),
        ...fields,
      });
      const documents = [
        job(alice, base + 3),
        job(alice, base + 1, { status: 'completed', completed: base + 9 }),
        job(alice, base + 2, { scheduled: base + 50 }),
        job(bob, base + 5, { scheduled: base + 10 }),
        job(bob, base + 4, { status: 'failed', backupType: 'incremental' }),
      ];
      for (const document of documents) await store['backup-job'].create(document);
      return { store, alice, bob, documents };
    }

    it("find: one user's documents, another's excluded, ordered and limited", async () => {
      const { store, alice, bob, documents } = await jobs();
      const [a3, a1, a2, b5, b4] = ids(documents);
      expect(ids(await find(store, { pubkey: alice, orderBy: { field: 'requested', direction: 'asc' } }))).toEqual([a1, a2, a3]);
      expect(ids(await find(store, { pubkey: alice, orderBy: { field: 'requested', direction: 'desc' }, limit: 2 }))).toEqual([a3, a2]);
      expect(ids(await find(store, { exceptPubkey: alice, orderBy: { field: 'requested', direction: 'asc' } }))).toEqual([b4, b5]);
      expect(ids(await find(store, { orderBy: { field: 'requested', direction: 'desc' }, limit: 3 }))).toEqual([b5, b4, a3]);
      expect(await find(store, { pubkey: bob, limit: 0 })).toEqual([]);
      expect(await find(store, { pubkey: newPubkey() })).toEqual([]);
      expect((await find(store, { pubkey: alice, orderBy: { field: 'requested', direction: 'asc' } }))[0]).toEqual(documents[1]);
    });

    it('find: equality, ranges, and absent fields matched on request', async () => {
      const { store, documents } = await jobs();
      const [a3, a1, a2, b5, b4] = ids(documents);
      const sorted = async (query: DocumentQuery<'backup-job'>) =>
        ids(await find(store, { ...query, orderBy: { field: 'requested', direction: 'asc' } }));
      expect(await sorted({ where: [{ field: 'status', equals: 'pending' }] })).toEqual([a2, a3, b5]);
      expect(await sorted({ where: [{ field: 'backupType', equals: 'incremental' }] })).toEqual([b4]);
      expect(await sorted({ where: [{ field: 'scheduled', atMost: base + 10 }] })).toEqual([b5]);
      expect(await sorted({ where: [{ field: 'scheduled', atMost: base + 10, orAbsent: true }] })).toEqual([a1, a3, b4, b5]);
      expect(await sorted({ where: [{ field: 'requested', atLeast: base + 3 }] })).toEqual([a3, b4, b5]);
      expect(await sorted({ where: [{ field: 'status', equals: 'failed', orAbsent: true }] })).toEqual([b4]);
      expect(
        await sorted({
          where: [
            { field: 'status', equals: 'pending' },
            { field: 'scheduled', atMost: base + 49, orAbsent: true },
          ],
        }),
      ).toEqual([a3, b5]);
    });

    it('find: text compared ignoring case only when asked, and literally', async () => {
      const store = await handle.fresh();
      const account = { ...sample('account', newPubkey()), username: 'Mixed_Case%Name' };
      await store.account.create(account);
      const byName = (equals: string, ignoreCase?: boolean) => store.account.find({ where: [{ field: 'username', equals, ignoreCase }] });
      expect(await byName('mixed_case%name', true)).toEqual([account]);
      expect(await byName('mixed_case%name')).toEqual([]);
      expect(await byName('Mixed_Case%Name')).toEqual([account]);
      expect(await byName('mixed_case%', true)).toEqual([]);
      expect(await byName('mixedXcase%name', true)).toEqual([]);
    });

    it('count: every document of the type, or those a query selects', async () => {
      const { store, alice, bob } = await jobs();
      expect(await store['backup-job'].count()).toBe(5);
      expect(await store['backup-job'].count({ pubkey: alice })).toBe(3);
      expect(await store['backup-job'].count({ pubkey: bob, where: [{ field: 'requested', atLeast: base + 5 }] })).toBe(1);
      expect(await store['backup-job'].count({ where: [{ field: 'status', equals: 'pending' }] })).toBe(3);
      expect(await store.payment.count()).toBe(0);
    });

    it('pubkeysOf: each pubkey once, sorted', async () => {
      const { store, alice, bob } = await jobs();
      expect(await store['backup-job'].pubkeysOf({})).toEqual([alice, bob].sort());
      expect(await store['backup-job'].pubkeysOf({ where: [{ field: 'status', equals: 'failed' }] })).toEqual([bob]);
      expect(await store['backup-job'].pubkeysOf({ where: [{ field: 'status', equals: 'expired' }] })).toEqual([]);
    });

    it('refuses a query naming an unmodeled field, comparing a field with the wrong kind of value, or a bad limit', async () => {
      const repository = repositories['backup-job'];
      const bad: Array<DocumentQuery<'backup-job'>> = [
        { where: [{ field: 'note' as 'status', equals: 'x' }] },
        { where: [{ field: 'requested', equals: 'yesterday' }] },
        { where: [{ field: 'status', atMost: 3 }] },
        { where: [{ field: 'metadata', equals: 'x' }] },
        { where: [{ field: 'requested', equals: 5, ignoreCase: true }] },
        { orderBy: { field: 'c.id; --' as 'status', direction: 'asc' } },
        { limit: -1 },
        { limit: 2.5 },
      ];
      for (const query of bad) {
        await expect(repository.find(query), JSON.stringify(query)).rejects.toBeInstanceOf(InvalidInputError);
        await expect(repository.count(query), JSON.stringify(query)).rejects.toBeInstanceOf(InvalidInputError);
        await expect(repository.pubkeysOf(query), JSON.stringify(query)).rejects.toBeInstanceOf(InvalidInputError);
      }
    });
  });

  describe('account', () => {
    it('finds an account by username ignoring case', async () => {
      const account = { ...sample('account', newPubkey()), username: `Alice-${token()}` };
      await repositories.account.create(account);
      expect(await repositories.account.getByUsername(account.username.toUpperCase())).toEqual(account);
      expect(await repositories.account.getByUsername(account.username.toLowerCase())).toEqual(account);
      expect(await repositories.account.getByUsername(`${account.username}x`)).toBeNull();
    });

    it('gives the oldest account when two usernames differ only in case', async () => {
      const name = `bob-${token()}`;
      const newer = { ...sample('account', newPubkey(), base + 1000), username: name.toUpperCase() };
      const older = { ...sample('account', newPubkey(), base), username: name };
      await repositories.account.create(newer);
      await repositories.account.create(older);
      expect(await repositories.account.getByUsername(name.toUpperCase())).toEqual(older);
    });

    it('matches usernames literally, not as patterns', async () => {
      const account = { ...sample('account', newPubkey()), username: `carol${token()}` };
      await repositories.account.create(account);
      expect(await repositories.account.getByUsername(`_${account.username.slice(1)}`)).toBeNull();
      expect(await repositories.account.getByUsername('%')).toBeNull();
      expect(await repositories.account.getByUsername(`${account.username.slice(0, 3)}%`)).toBeNull();
      const odd = { ...sample('account', newPubkey()), username: `D_a%v\\e-${token()}` };
      await repositories.account.create(odd);
      expect(await repositories.account.getByUsername(odd.username.toLowerCase())).toEqual(odd);
    });

    it('keeps timestamps and big integers exact', async () => {
      const account = { ...sample('account', newPubkey()), expires: 8_640_000_000_000_000, lastLoginDate: 2 ** 31 + 1 };
      await repositories.account.create(account);
      expect(await repositories.account.getByPubkey(account.pubkey)).toEqual(account);
    });
  });

  describe('payment', () => {
    it('keeps integers beyond 2^31 exact', async () => {
      const payment = { ...sample('payment', newPubkey()), lnAmountSat: 2 ** 31 + 7, creditNanosUsd: Number.MAX_SAFE_INTEGER };
      await repositories.payment.create(payment);
      const [read] = await repositories.payment.listByPubkey(payment.pubkey);
      expect(read?.lnAmountSat).toBe(2 ** 31 + 7);
      expect(read?.creditNanosUsd).toBe(Number.MAX_SAFE_INTEGER);
    });
  });

  describe('account-settings', () => {
    it('reads, lists, updates and counts older documents typed user-settings, keeping their type', async () => {
      const pubkey = newPubkey();
      const legacy = { ...sample('account-settings', pubkey), type: 'user-settings' as const };
      const repository = repositories['account-settings'];
      const before = await repository.count();
      await repository.create(legacy);
      expect(await repository.getByPubkey(pubkey)).toEqual(legacy);
      expect(await repository.getById(legacy.id, pubkey)).toEqual(legacy);
      expect(await repository.listByPubkey(pubkey)).toEqual([legacy]);
      expect(await repository.count()).toBe(before + 1);
      const changed = { ...legacy, socialSharing: false };
      await repository.update(changed);
      expect(await repository.getByPubkey(pubkey)).toEqual(changed);
    });

    it('never puts a secret value in a validation error', async () => {
      const secret = `secret-${token()}`;
      const document = { ...sample('account-settings', newPubkey()), xAccessSecret: 42, releaseChannel: secret } as unknown as AnyDocument;
      const error = await repositories['account-settings'].create(document as never).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DocumentValidationError);
      expect((error as Error).message).toContain('xAccessSecret');
      expect((error as Error).message).not.toContain(secret);
    });
  });
}

/** An optional modeled field of each type (one the sample sets), for the null-versus-absent rule. */
function optionalFieldOf(type: DocumentType): string {
  const fields: Record<DocumentType, string> = {
    account: 'username',
    'account-settings': 'xUserId',
    'backup-job': 'metadata',
    payment: 'purpose',
    'notification-subscription': 'modified',
    'notification-settings': 'filters',
    'notification-log': 'title',
  };
  return fields[type];
}

/** The document as a repository keeps it: modeled optional fields that are null are absent. */
function withoutNulls<D extends object>(document: D): D {
  return Object.fromEntries(Object.entries(document).filter(([, value]) => value !== null)) as D;
}
