import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DocumentConflictError, DocumentNotFoundError, DocumentValidationError, InvalidInputError } from '../../shared/core/errors.js';
import type {
  AccountDocument,
  BackupJobDocument,
  NotificationSubscriptionDocument,
  PaymentDocument,
} from '../../shared/domain/document-types.js';
import type { Repositories } from '../../shared/domain/repository-contract.js';
import type { PushSubscriptionInput, ServiceRepositories } from '../../shared/domain/service-repositories.js';
import { createServiceRepositories } from '../../shared/repositories/service/service-repositories.js';
import { type RepositoryBackend, repositoryBackends } from '../support/repository-backends.js';

/**
 * The Nostria service's seven repositories (docs/service-repositories.md), every method with its edge cases,
 * run unchanged on Cosmos DB (the real SDK against the project's Cosmos double) and on PostgreSQL. The
 * repositories' clock is pinned (`clock`), so "now" is a known value in every assertion.
 */

describe.each(repositoryBackends)('$name: the service repositories', ({ open }) => serviceContract(open));

const base = 1_764_000_000_000;
const day = 86_400_000;
const newPubkey = () => randomBytes(32).toString('hex');
const token = () => randomBytes(4).toString('hex');

function account(pubkey = newPubkey(), fields: Partial<AccountDocument> = {}): AccountDocument {
  return {
    id: `account-${pubkey}`,
    pubkey,
    type: 'account',
    username: `user-${token()}`,
    tier: 'free',
    subscription: { tier: 'free', entitlements: { notificationsPerDay: 5, features: [] } },
    created: base,
    modified: base,
    ...fields,
  };
}

function backupJob(pubkey = newPubkey(), fields: Partial<BackupJobDocument> = {}): BackupJobDocument {
  return { id: randomUUID(), pubkey, type: 'backup-job', status: 'pending', backupType: 'full', requested: base, ...fields };
}

function payment(pubkey = newPubkey(), fields: Partial<PaymentDocument> = {}): PaymentDocument {
  return {
    id: `payment-${randomUUID()}`,
    pubkey,
    type: 'payment',
    paymentType: 'ln',
    lnHash: `hash-${token()}`,
    lnInvoice: `lnbc${token()}`,
    lnAmountSat: 21_000,
    tier: 'premium',
    billingCycle: 'monthly',
    priceCents: 999,
    isPaid: false,
    expires: base + 3_600_000,
    created: base,
    modified: base,
    ...fields,
  };
}

function pushSubscription(deviceKey = `BP${token()}`): PushSubscriptionInput {
  return { endpoint: `https://push.example/${token()}`, keys: { p256dh: deviceKey, auth: token() }, userAgent: 'Firefox' };
}

/** Newest first by `field`, as the repositories must order them. */
function newestFirst<D>(documents: D[], field: keyof D): D[] {
  return [...documents].sort((a, b) => Number(b[field]) - Number(a[field]));
}

function serviceContract(open: () => Promise<RepositoryBackend>) {
  let backend: RepositoryBackend;
  let generic: Repositories;
  let service: ServiceRepositories;
  /** The repositories' "now"; every test starts at `base` and moves it as it needs. */
  let clock = base;
  const options = { now: () => clock };

  beforeAll(async () => {
    backend = await open();
    generic = backend.repositories;
    service = createServiceRepositories(generic, options);
  });
  afterAll(() => backend?.close());
  beforeEach(() => {
    clock = base;
  });

  /** Service and generic repositories on an empty store of their own. */
  async function isolated(): Promise<{ service: ServiceRepositories; generic: Repositories }> {
    const repositories = await backend.fresh();
    return { service: createServiceRepositories(repositories, options), generic: repositories };
  }

  describe('account', () => {
    it('create stores the account with its type forced, and the usual id when it has none', async () => {
      const { id: _id, ...withoutId } = account();
      const created = await service.account.create({ ...withoutId, type: 'something-else' });
      const expected = { ...withoutId, id: `account-${withoutId.pubkey}`, type: 'account' };
      expect(created).toEqual(expected);
      expect(await service.account.getByPubkey(withoutId.pubkey)).toEqual(expected);
    });

    it('create replaces the existing account of the pubkey, one stored under an older id included', async () => {
      const pubkey = newPubkey();
      const legacy = account(pubkey, { id: pubkey, username: `old-${token()}` });
      await generic.account.create(legacy);
      const replacement = account(pubkey, { tier: 'premium' });
      expect(await service.account.create(replacement)).toEqual(replacement);
      expect(await service.account.getByPubkey(pubkey)).toEqual(replacement);
      expect(await generic.account.listByPubkey(pubkey)).toEqual([replacement]);
      expect(await service.account.getByUsername(legacy.username ?? '')).toBeNull();
    });

    it('isUsernameTaken: another account holds the name, ignoring case; the excluded pubkey does not count', async () => {
      const holder = account(newPubkey(), { username: `Alice-${token()}` });
      await service.account.create(holder);
      const name = holder.username ?? '';
      expect(await service.account.isUsernameTaken(name.toUpperCase())).toBe(true);
      expect(await service.account.isUsernameTaken(name.toLowerCase(), newPubkey())).toBe(true);
      expect(await service.account.isUsernameTaken(name, holder.pubkey)).toBe(false);
      expect(await service.account.isUsernameTaken(`${name}x`)).toBe(false);
    });

    it('isUsernameTaken: a second holder differing only in case is found even when the first is excluded', async () => {
      const name = `bob-${token()}`;
      const first = account(newPubkey(), { username: name });
      const second = account(newPubkey(), { username: name.toUpperCase(), created: base + 1 });
      await service.account.create(first);
      await service.account.create(second);
      expect(await service.account.isUsernameTaken(name, first.pubkey)).toBe(true);
      expect(await service.account.isUsernameTaken(name, second.pubkey)).toBe(true);
    });

    it('isUsernameTaken and getByUsername match literally, not as patterns', async () => {
      const odd = account(newPubkey(), { username: `D_a%v\\e-${token()}` });
      await service.account.create(odd);
      const name = odd.username ?? '';
      expect(await service.account.isUsernameTaken('%')).toBe(false);
      expect(await service.account.isUsernameTaken(`${name.slice(0, 3)}%`)).toBe(false);
      expect(await service.account.isUsernameTaken(`_${name.slice(1)}`)).toBe(false);
      expect(await service.account.getByUsername(name.toLowerCase())).toEqual(odd);
    });

    it('getByPubkey: the account, one under an older id included; null for an unknown pubkey', async () => {
      const legacy = account(undefined, {});
      const stored = { ...legacy, id: legacy.pubkey };
      await generic.account.create(stored);
      expect(await service.account.getByPubkey(legacy.pubkey)).toEqual(stored);
      expect(await service.account.getByPubkey(newPubkey())).toBeNull();
    });

    it('getByUsername: ignoring case, the oldest of two that differ only in case; null when none', async () => {
      const name = `carol-${token()}`;
      const newer = account(newPubkey(), { username: name.toUpperCase(), created: base + 1000 });
      const older = account(newPubkey(), { username: name, created: base });
      await service.account.create(newer);
      await service.account.create(older);
      expect(await service.account.getByUsername(name.toUpperCase())).toEqual(older);
      expect(await service.account.getByUsername(`nobody-${token()}`)).toBeNull();
    });

    it('update replaces the stored account whole, sets modified to now, and returns it', async () => {
      const stored = account(undefined, { lastLoginDate: base });
      await service.account.create(stored);
      clock = base + 5000;
      const { lastLoginDate: _dropped, ...changed } = { ...stored, tier: 'basic' as const };
      const updated = await service.account.update(changed);
      expect(updated).toEqual({ ...changed, modified: base + 5000 });
      expect(await service.account.getByPubkey(stored.pubkey)).toEqual(updated);
    });

    it('update keeps the id of an account stored under an older id', async () => {
      const legacy = account();
      const stored = { ...legacy, id: legacy.pubkey };
      await generic.account.create(stored);
      const updated = await service.account.update({ ...legacy, tier: 'premium' });
      expect(updated).toEqual({ ...stored, tier: 'premium', modified: base });
      expect(await generic.account.listByPubkey(legacy.pubkey)).toEqual([updated]);
    });

    it('update fails with DocumentNotFoundError when the pubkey has no account, and writes nothing', async () => {
      const missing = account();
      await expect(service.account.update(missing)).rejects.toBeInstanceOf(DocumentNotFoundError);
      expect(await service.account.getByPubkey(missing.pubkey)).toBeNull();
    });

    it('updateLoginDate sets lastLoginDate and modified to now; nothing for a pubkey without an account', async () => {
      const stored = account();
      await service.account.create(stored);
      clock = base + 60_000;
      await service.account.updateLoginDate(stored.pubkey);
      expect(await service.account.getByPubkey(stored.pubkey)).toEqual({
        ...stored,
        lastLoginDate: base + 60_000,
        modified: base + 60_000,
      });
      const nobody = newPubkey();
      await service.account.updateLoginDate(nobody);
      expect(await service.account.getByPubkey(nobody)).toBeNull();
    });

    it('getAllAccounts: newest first by created, at most limit, 100 by default', async () => {
      const store = await isolated();
      const accounts = Array.from({ length: 102 }, (_, at) => account(newPubkey(), { created: base + ((at * 7919) % 102) * 1000 }));
      await Promise.all(accounts.map((document) => store.service.account.create(document)));
      const sorted = newestFirst(accounts, 'created');
      expect(await store.service.account.getAllAccounts()).toEqual(sorted.slice(0, 100));
      expect(await store.service.account.getAllAccounts(3)).toEqual(sorted.slice(0, 3));
      expect(await store.service.account.getAllAccounts(0)).toEqual([]);
      await expect(store.service.account.getAllAccounts(-1)).rejects.toBeInstanceOf(InvalidInputError);
      await expect(store.service.account.getAllAccounts(1.5)).rejects.toBeInstanceOf(InvalidInputError);
    });

    it('deleteAccount removes the account, one under an older id too; other accounts stay; none is no error', async () => {
      const kept = account();
      const removed = account();
      const legacy = account();
      await service.account.create(kept);
      await service.account.create(removed);
      await generic.account.create({ ...legacy, id: legacy.pubkey });
      await service.account.deleteAccount(removed.pubkey);
      await service.account.deleteAccount(legacy.pubkey);
      expect(await service.account.getByPubkey(removed.pubkey)).toBeNull();
      expect(await service.account.getByPubkey(legacy.pubkey)).toBeNull();
      expect(await generic.account.listByPubkey(legacy.pubkey)).toEqual([]);
      expect(await service.account.getByPubkey(kept.pubkey)).toEqual(kept);
      await expect(service.account.deleteAccount(newPubkey())).resolves.toBeUndefined();
    });

    it('hasPremiumSubscription: premium or premium_plus, not expired (no expiry counts as not expired)', async () => {
      const cases: Array<[Partial<AccountDocument>, boolean]> = [
        [{ tier: 'premium' }, true],
        [{ tier: 'premium_plus', expires: base + 1 }, true],
        [{ tier: 'premium', expires: base }, false],
        [{ tier: 'premium_plus', expires: base - day }, false],
        [{ tier: 'basic', expires: base + day }, false],
        [{ tier: 'free' }, false],
      ];
      for (const [fields, premium] of cases) {
        const document = account(newPubkey(), fields);
        await service.account.create(document);
        expect(await service.account.hasPremiumSubscription(document.pubkey), JSON.stringify(fields)).toBe(premium);
      }
      expect(await service.account.hasPremiumSubscription(newPubkey())).toBe(false);
    });

    it('rejects an invalid account with the reason', async () => {
      const bad = { ...account(), tier: 'gold' } as unknown as AccountDocument;
      await expect(service.account.create(bad)).rejects.toBeInstanceOf(DocumentValidationError);
      expect(await service.account.getByPubkey(bad.pubkey)).toBeNull();
    });
  });

  describe('account settings', () => {
    it('upsertUserSettings creates with the defaults, the usual id and created now', async () => {
      const pubkey = newPubkey();
      clock = base + 10;
      const created = await service.userSettings.upsertUserSettings(pubkey, { xUserId: '42' });
      const expected = {
        id: `account-settings-${pubkey}`,
        pubkey,
        type: 'account-settings',
        releaseChannel: 'stable',
        socialSharing: true,
        xUserId: '42',
        created: base + 10,
      };
      expect(created).toEqual(expected);
      expect(await service.userSettings.getUserSettings(pubkey)).toEqual(expected);
    });

    it('upsertUserSettings keeps stored values of fields not given (undefined is not given), and created', async () => {
      const pubkey = newPubkey();
      await service.userSettings.upsertUserSettings(pubkey, {
        releaseChannel: 'beta',
        socialSharing: false,
        xUserId: '42',
        xUsername: 'alice',
        xAccessToken: 'token-1',
        xAccessSecret: 'secret-1',
        xRequestToken: 'request-1',
        xRequestSecret: 'request-secret-1',
        xRequestCreated: base,
      });
      clock = base + day;
      const updated = await service.userSettings.upsertUserSettings(pubkey, { xAccessToken: 'token-2', socialSharing: undefined });
      expect(updated).toEqual({
        id: `account-settings-${pubkey}`,
        pubkey,
        type: 'account-settings',
        releaseChannel: 'beta',
        socialSharing: false,
        xUserId: '42',
        xUsername: 'alice',
        xAccessToken: 'token-2',
        xAccessSecret: 'secret-1',
        xRequestToken: 'request-1',
        xRequestSecret: 'request-secret-1',
        xRequestCreated: base,
        created: base,
      });
      expect(await service.userSettings.getUserSettings(pubkey)).toEqual(updated);
    });

    it('updateUserSettings updates like upsert, and creates the settings when there are none', async () => {
      const pubkey = newPubkey();
      const created = await service.userSettings.updateUserSettings(pubkey, { releaseChannel: 'alpha' });
      expect(created).toMatchObject({ releaseChannel: 'alpha', socialSharing: true, created: base });
      clock = base + 1;
      const updated = await service.userSettings.updateUserSettings(pubkey, { socialSharing: false });
      expect(updated).toEqual({ ...created, socialSharing: false });
      expect(await service.userSettings.getUserSettings(pubkey)).toEqual(updated);
    });

    it('older user-settings documents are read, and replaced by the usual document when written', async () => {
      const pubkey = newPubkey();
      const legacy = {
        id: `user-settings-${pubkey}`,
        pubkey,
        type: 'user-settings' as const,
        releaseChannel: 'beta' as const,
        socialSharing: false,
        created: base - day,
      };
      await generic['account-settings'].create(legacy);
      expect(await service.userSettings.getUserSettings(pubkey)).toEqual(legacy);
      const written = await service.userSettings.upsertUserSettings(pubkey, { xUserId: '7' });
      expect(written).toEqual({ ...legacy, id: `account-settings-${pubkey}`, type: 'account-settings', xUserId: '7' });
      expect(await generic['account-settings'].listByPubkey(pubkey)).toEqual([written]);
    });

    it('rejects a release channel other than stable, beta, alpha without showing it, and writes nothing', async () => {
      const pubkey = newPubkey();
      const secret = `channel-${token()}`;
      const writes = [
        (...args: Parameters<typeof service.userSettings.upsertUserSettings>) => service.userSettings.upsertUserSettings(...args),
        (...args: Parameters<typeof service.userSettings.updateUserSettings>) => service.userSettings.updateUserSettings(...args),
      ];
      for (const write of writes) {
        const error = await write(pubkey, { releaseChannel: secret as 'beta' }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(DocumentValidationError);
        expect((error as Error).message).toContain('releaseChannel');
        expect((error as Error).message).not.toContain(secret);
      }
      expect(await service.userSettings.getUserSettings(pubkey)).toBeNull();
    });

    it('getUserSettings: null for a pubkey without settings', async () => {
      expect(await service.userSettings.getUserSettings(newPubkey())).toBeNull();
    });

    it('deleteUserSettings removes them, older documents included; none is no error', async () => {
      const current = newPubkey();
      const legacy = newPubkey();
      await service.userSettings.upsertUserSettings(current, {});
      await generic['account-settings'].create({ id: `user-settings-${legacy}`, pubkey: legacy, type: 'user-settings', created: base });
      await service.userSettings.deleteUserSettings(current);
      await service.userSettings.deleteUserSettings(legacy);
      expect(await service.userSettings.getUserSettings(current)).toBeNull();
      expect(await service.userSettings.getUserSettings(legacy)).toBeNull();
      await expect(service.userSettings.deleteUserSettings(newPubkey())).resolves.toBeUndefined();
    });

    it('getDefaultSettings: stable and social sharing on, a new object each time', () => {
      const defaults = service.userSettings.getDefaultSettings();
      expect(defaults).toEqual({ releaseChannel: 'stable', socialSharing: true });
      (defaults as { releaseChannel: string }).releaseChannel = 'alpha';
      expect(service.userSettings.getDefaultSettings()).toEqual({ releaseChannel: 'stable', socialSharing: true });
    });

    it('getUsersByReleaseChannel: both document types; settings naming no channel are on stable', async () => {
      const store = await isolated();
      const [beta, legacyBeta, stable, noChannel, alpha] = [newPubkey(), newPubkey(), newPubkey(), newPubkey(), newPubkey()];
      await store.service.userSettings.upsertUserSettings(beta, { releaseChannel: 'beta' });
      await store.generic['account-settings'].create({
        id: `user-settings-${legacyBeta}`,
        pubkey: legacyBeta,
        type: 'user-settings',
        releaseChannel: 'beta',
        created: base,
      });
      await store.service.userSettings.upsertUserSettings(stable, {});
      await store.generic['account-settings'].create({
        id: `account-settings-${noChannel}`,
        pubkey: noChannel,
        type: 'account-settings',
        created: base,
      });
      await store.service.userSettings.upsertUserSettings(alpha, { releaseChannel: 'alpha' });
      expect(await store.service.userSettings.getUsersByReleaseChannel('beta')).toEqual([beta, legacyBeta].sort());
      expect(await store.service.userSettings.getUsersByReleaseChannel('stable')).toEqual([stable, noChannel].sort());
      expect(await store.service.userSettings.getUsersByReleaseChannel('alpha')).toEqual([alpha]);
      await expect(store.service.userSettings.getUsersByReleaseChannel('nightly' as 'beta')).rejects.toBeInstanceOf(
        DocumentValidationError,
      );
    });
  });

  describe('backup jobs', () => {
    it('createBackupJob stores the job with its type forced and returns it; an existing id is a conflict', async () => {
      const job = backupJob();
      expect(await service.backupJob.createBackupJob({ ...job, type: 'whatever' })).toEqual(job);
      expect(await service.backupJob.getBackupJob(job.id, job.pubkey)).toEqual(job);
      await expect(service.backupJob.createBackupJob({ ...job, status: 'failed' })).rejects.toBeInstanceOf(DocumentConflictError);
      expect(await service.backupJob.getBackupJob(job.id, job.pubkey)).toEqual(job);
    });

    it("getBackupJob: null for an unknown id, and for another user's pubkey", async () => {
      const job = backupJob();
      await service.backupJob.createBackupJob(job);
      expect(await service.backupJob.getBackupJob(randomUUID(), job.pubkey)).toBeNull();
      expect(await service.backupJob.getBackupJob(job.id, newPubkey())).toBeNull();
    });

    it("getUserBackupJobs: the user's jobs newest first by requested, at most limit, 50 by default", async () => {
      const pubkey = newPubkey();
      const jobs = Array.from({ length: 52 }, (_, at) => backupJob(pubkey, { requested: base + ((at * 31) % 52) * 1000 }));
      await Promise.all(jobs.map((job) => service.backupJob.createBackupJob(job)));
      await service.backupJob.createBackupJob(backupJob(newPubkey(), { requested: base + day }));
      const sorted = newestFirst(jobs, 'requested');
      expect(await service.backupJob.getUserBackupJobs(pubkey)).toEqual(sorted.slice(0, 50));
      expect(await service.backupJob.getUserBackupJobs(pubkey, 2)).toEqual(sorted.slice(0, 2));
      expect(await service.backupJob.getUserBackupJobs(newPubkey())).toEqual([]);
    });

    it('updateBackupJobStatus stamps started when the job starts and completed when it completes or fails, as numbers', async () => {
      const job = backupJob();
      await service.backupJob.createBackupJob(job);
      clock = base + 1000;
      const started = await service.backupJob.updateBackupJobStatus(job.id, job.pubkey, 'in_progress');
      expect(started).toEqual({ ...job, status: 'in_progress', started: base + 1000 });
      clock = base + 2000;
      const completed = await service.backupJob.updateBackupJobStatus(job.id, job.pubkey, 'completed', {
        resultUrl: 'https://backups.example/1',
        metadata: { originalSize: 3_000_000_000, fileCount: 3 },
      });
      expect(completed).toEqual({
        ...started,
        status: 'completed',
        completed: base + 2000,
        resultUrl: 'https://backups.example/1',
        metadata: { originalSize: 3_000_000_000, fileCount: 3 },
      });
      expect(await service.backupJob.getBackupJob(job.id, job.pubkey)).toEqual(completed);

      const failing = backupJob();
      await service.backupJob.createBackupJob(failing);
      const failed = await service.backupJob.updateBackupJobStatus(failing.id, failing.pubkey, 'failed', { errorMessage: 'disk full' });
      expect(failed).toEqual({ ...failing, status: 'failed', completed: base + 2000, errorMessage: 'disk full' });
    });

    it('updateBackupJobStatus: times given in updates win; other statuses stamp nothing', async () => {
      const job = backupJob();
      await service.backupJob.createBackupJob(job);
      clock = base + 9000;
      expect(await service.backupJob.updateBackupJobStatus(job.id, job.pubkey, 'in_progress', { started: base + 5 })).toEqual({
        ...job,
        status: 'in_progress',
        started: base + 5,
      });
      expect(await service.backupJob.updateBackupJobStatus(job.id, job.pubkey, 'completed', { completed: base + 6 })).toEqual({
        ...job,
        status: 'completed',
        started: base + 5,
        completed: base + 6,
      });
      expect(await service.backupJob.updateBackupJobStatus(job.id, job.pubkey, 'expired', { expires: base + 7 })).toEqual({
        ...job,
        status: 'expired',
        started: base + 5,
        completed: base + 6,
        expires: base + 7,
      });
    });

    it('updateBackupJobStatus fails with DocumentNotFoundError for a missing job, and creates nothing', async () => {
      const job = backupJob();
      const error = await service.backupJob.updateBackupJobStatus(job.id, job.pubkey, 'in_progress').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DocumentNotFoundError);
      expect(error).toMatchObject({ type: 'backup-job', id: job.id });
      expect(await service.backupJob.getBackupJob(job.id, job.pubkey)).toBeNull();
    });

    it('deleteBackupJob removes the job; a missing one is no error', async () => {
      const job = backupJob();
      await service.backupJob.createBackupJob(job);
      await service.backupJob.deleteBackupJob(job.id, job.pubkey);
      expect(await service.backupJob.getBackupJob(job.id, job.pubkey)).toBeNull();
      await expect(service.backupJob.deleteBackupJob(job.id, job.pubkey)).resolves.toBeUndefined();
    });

    it('getPendingBackupJobs: pending and due (no schedule, or scheduled by now), oldest requested first, at most limit', async () => {
      const store = await isolated();
      clock = base + day;
      const due = [
        backupJob(newPubkey(), { requested: base + 3 }),
        backupJob(newPubkey(), { requested: base + 1, scheduled: base }),
        backupJob(newPubkey(), { requested: base + 2, scheduled: base + day }),
      ];
      const notDue = [
        backupJob(newPubkey(), { requested: base, scheduled: base + day + 1 }),
        backupJob(newPubkey(), { requested: base, status: 'scheduled' }),
        backupJob(newPubkey(), { requested: base, status: 'in_progress', started: base }),
      ];
      for (const job of [...due, ...notDue]) await store.service.backupJob.createBackupJob(job);
      const oldestFirst = [...due].sort((a, b) => a.requested - b.requested);
      expect(await store.service.backupJob.getPendingBackupJobs()).toEqual(oldestFirst);
      expect(await store.service.backupJob.getPendingBackupJobs(2)).toEqual(oldestFirst.slice(0, 2));
    });

    it('getPendingBackupJobs: 100 by default', async () => {
      const store = await isolated();
      const jobs = Array.from({ length: 101 }, (_, at) => backupJob(newPubkey(), { requested: base + at }));
      await Promise.all(jobs.map((job) => store.service.backupJob.createBackupJob(job)));
      expect(await store.service.backupJob.getPendingBackupJobs()).toEqual(jobs.slice(0, 100));
    });
  });

  describe('payments', () => {
    it('create stores the payment with its type forced; an existing id is a conflict', async () => {
      const stored = payment();
      expect(await service.payment.create({ ...stored, type: 'other' })).toEqual(stored);
      expect(await service.payment.get(stored.id, stored.pubkey)).toEqual(stored);
      await expect(service.payment.create(stored)).rejects.toBeInstanceOf(DocumentConflictError);
    });

    it('update replaces the payment and sets modified to now; a missing payment is DocumentNotFoundError', async () => {
      const stored = payment();
      await service.payment.create(stored);
      clock = base + 30_000;
      const paid = await service.payment.update({ ...stored, isPaid: true, paid: base + 29_000 });
      expect(paid).toEqual({ ...stored, isPaid: true, paid: base + 29_000, modified: base + 30_000 });
      expect(await service.payment.get(stored.id, stored.pubkey)).toEqual(paid);
      const missing = payment();
      await expect(service.payment.update(missing)).rejects.toBeInstanceOf(DocumentNotFoundError);
      expect(await service.payment.get(missing.id, missing.pubkey)).toBeNull();
    });

    it("get: null for an unknown id and for another user's pubkey", async () => {
      const stored = payment();
      await service.payment.create(stored);
      expect(await service.payment.get(`payment-${randomUUID()}`, stored.pubkey)).toBeNull();
      expect(await service.payment.get(stored.id, newPubkey())).toBeNull();
    });

    it('getAllPayments: newest first by created, at most limit, 100 by default', async () => {
      const store = await isolated();
      const payments = Array.from({ length: 101 }, (_, at) => payment(newPubkey(), { created: base + ((at * 37) % 101) }));
      await Promise.all(payments.map((document) => store.service.payment.create(document)));
      const sorted = newestFirst(payments, 'created');
      expect(await store.service.payment.getAllPayments()).toEqual(sorted.slice(0, 100));
      expect(await store.service.payment.getAllPayments(1)).toEqual(sorted.slice(0, 1));
    });
  });

  describe('notification subscriptions', () => {
    it('createSubscription stores the device under its id, keyed by keys.p256dh, created and modified now', async () => {
      const pubkey = newPubkey();
      const subscription = pushSubscription();
      const deviceKey = subscription.keys.p256dh;
      const created = await service.notificationSubscription.createSubscription(pubkey, subscription);
      const expected = {
        id: `notification-subscription-${pubkey}-${deviceKey}`,
        pubkey,
        type: 'notification-subscription',
        subscription,
        deviceKey,
        created: base,
        modified: base,
      };
      expect(created).toEqual(expected);
      expect(await service.notificationSubscription.getSubscriptionByDeviceKey(pubkey, deviceKey)).toEqual(expected);
    });

    it('createSubscription for a device already subscribed replaces its subscription: one per device', async () => {
      const pubkey = newPubkey();
      const first = pushSubscription();
      const deviceKey = first.keys.p256dh;
      // An older document of the same device under another id.
      await generic['notification-subscription'].create({
        id: `legacy-${token()}`,
        pubkey,
        type: 'notification-subscription',
        subscription: first as NotificationSubscriptionDocument['subscription'],
        deviceKey,
        created: base - day,
      });
      await service.notificationSubscription.createSubscription(pubkey, first);
      clock = base + 1000;
      const renewed = { ...pushSubscription(deviceKey), endpoint: 'https://push.example/renewed' };
      const written = await service.notificationSubscription.createSubscription(pubkey, renewed);
      expect(written).toMatchObject({ subscription: renewed, created: base + 1000, modified: base + 1000 });
      expect(await service.notificationSubscription.getUserSubscriptions(pubkey)).toEqual([written]);
    });

    it('createSubscription refuses a subscription without a device key, and writes nothing', async () => {
      const pubkey = newPubkey();
      const broken = { endpoint: 'https://push.example/x', keys: { auth: 'a' } } as unknown as PushSubscriptionInput;
      await expect(service.notificationSubscription.createSubscription(pubkey, broken)).rejects.toBeInstanceOf(DocumentValidationError);
      expect(await service.notificationSubscription.getUserSubscriptions(pubkey)).toEqual([]);
    });

    it("getUserSubscriptions: all the user's devices and no one else's", async () => {
      const pubkey = newPubkey();
      const phone = await service.notificationSubscription.createSubscription(pubkey, pushSubscription());
      clock = base + 1;
      const laptop = await service.notificationSubscription.createSubscription(pubkey, pushSubscription());
      await service.notificationSubscription.createSubscription(newPubkey(), pushSubscription());
      expect(await service.notificationSubscription.getUserSubscriptions(pubkey)).toEqual([phone, laptop]);
      expect(await service.notificationSubscription.getUserSubscriptions(newPubkey())).toEqual([]);
    });

    it('getSubscriptionByDeviceKey: one stored under an older id too; null for an unknown device', async () => {
      const pubkey = newPubkey();
      const legacy: NotificationSubscriptionDocument = {
        id: `legacy-${token()}`,
        pubkey,
        type: 'notification-subscription',
        subscription: pushSubscription('device-legacy') as NotificationSubscriptionDocument['subscription'],
        deviceKey: 'device-legacy',
        created: base,
      };
      await generic['notification-subscription'].create(legacy);
      expect(await service.notificationSubscription.getSubscriptionByDeviceKey(pubkey, 'device-legacy')).toEqual(legacy);
      expect(await service.notificationSubscription.getSubscriptionByDeviceKey(pubkey, 'device-unknown')).toBeNull();
      expect(await service.notificationSubscription.getSubscriptionByDeviceKey(newPubkey(), 'device-legacy')).toBeNull();
    });

    it("deleteSubscription removes the device's subscription, an older one too; other devices stay; none is no error", async () => {
      const pubkey = newPubkey();
      const kept = await service.notificationSubscription.createSubscription(pubkey, pushSubscription());
      const removed = await service.notificationSubscription.createSubscription(pubkey, pushSubscription());
      await generic['notification-subscription'].create({ ...removed, id: `legacy-${token()}` });
      await service.notificationSubscription.deleteSubscription(pubkey, removed.deviceKey);
      expect(await service.notificationSubscription.getUserSubscriptions(pubkey)).toEqual([kept]);
      await expect(service.notificationSubscription.deleteSubscription(pubkey, removed.deviceKey)).resolves.toBeUndefined();
    });

    it('getAllUserPubkeys: each pubkey with a subscription once, sorted', async () => {
      const store = await isolated();
      expect(await store.service.notificationSubscription.getAllUserPubkeys()).toEqual([]);
      const [twoDevices, oneDevice] = [newPubkey(), newPubkey()];
      await store.service.notificationSubscription.createSubscription(twoDevices, pushSubscription());
      await store.service.notificationSubscription.createSubscription(twoDevices, pushSubscription());
      await store.service.notificationSubscription.createSubscription(oneDevice, pushSubscription());
      await store.service.account.create(account());
      expect(await store.service.notificationSubscription.getAllUserPubkeys()).toEqual([twoDevices, oneDevice].sort());
    });

    it('getAllSubscriptions: at most limit, 100 by default', async () => {
      const store = await isolated();
      const pubkeys = Array.from({ length: 101 }, () => newPubkey());
      const written = await Promise.all(
        pubkeys.map((pubkey) => store.service.notificationSubscription.createSubscription(pubkey, pushSubscription())),
      );
      const all = await store.service.notificationSubscription.getAllSubscriptions();
      expect(all).toHaveLength(100);
      const byId = new Map(written.map((document) => [document.id, document]));
      for (const document of all) expect(document).toEqual(byId.get(document.id));
      expect(await store.service.notificationSubscription.getAllSubscriptions(5)).toHaveLength(5);
    });
  });

  describe('notification settings', () => {
    it('upsertSettings creates: enabled true by default, given properties kept, created, updated and modified now', async () => {
      const pubkey = newPubkey();
      const created = await service.notificationSettings.upsertSettings(pubkey, { filters: { kinds: [1, 7] }, quietHours: { from: 22 } });
      const expected = {
        id: `notification-settings-${pubkey}`,
        pubkey,
        type: 'notification-settings',
        enabled: true,
        filters: { kinds: [1, 7] },
        quietHours: { from: 22 },
        created: base,
        updated: base,
        modified: base,
      };
      expect(created).toEqual(expected);
      expect(await service.notificationSettings.getSettings(pubkey)).toEqual(expected);
    });

    it('upsertSettings replaces: created kept, what is not given is gone, enabled as given', async () => {
      const pubkey = newPubkey();
      await service.notificationSettings.upsertSettings(pubkey, { filters: { kinds: [1] }, settings: { sound: true } });
      clock = base + day;
      const replaced = await service.notificationSettings.upsertSettings(pubkey, { enabled: false, settings: ['quiet'] });
      expect(replaced).toEqual({
        id: `notification-settings-${pubkey}`,
        pubkey,
        type: 'notification-settings',
        enabled: false,
        settings: ['quiet'],
        created: base,
        updated: base + day,
        modified: base + day,
      });
      expect(await service.notificationSettings.getSettings(pubkey)).toEqual(replaced);
    });

    it('upsertSettings replaces settings stored under an older id, keeping their created', async () => {
      const pubkey = newPubkey();
      const legacy = { id: `legacy-${token()}`, pubkey, type: 'notification-settings' as const, enabled: false, created: base - day };
      await generic['notification-settings'].create(legacy);
      expect(await service.notificationSettings.getSettings(pubkey)).toEqual(legacy);
      const written = await service.notificationSettings.upsertSettings(pubkey, {});
      expect(written).toMatchObject({ id: `notification-settings-${pubkey}`, enabled: true, created: base - day });
      expect(await generic['notification-settings'].listByPubkey(pubkey)).toEqual([written]);
    });

    it('getSettings: null when there are none; deleteSettings removes them and is no error when there are none', async () => {
      const pubkey = newPubkey();
      expect(await service.notificationSettings.getSettings(pubkey)).toBeNull();
      await service.notificationSettings.upsertSettings(pubkey, {});
      await service.notificationSettings.deleteSettings(pubkey);
      expect(await service.notificationSettings.getSettings(pubkey)).toBeNull();
      await expect(service.notificationSettings.deleteSettings(pubkey)).resolves.toBeUndefined();
    });

    it('getAllSettings: at most limit, 100 by default', async () => {
      const store = await isolated();
      const pubkeys = Array.from({ length: 101 }, () => newPubkey());
      await Promise.all(pubkeys.map((pubkey) => store.service.notificationSettings.upsertSettings(pubkey, { enabled: true })));
      const all = await store.service.notificationSettings.getAllSettings();
      expect(all).toHaveLength(100);
      expect(new Set(all.map((settings) => settings.pubkey)).size).toBe(100);
      for (const settings of all) expect(pubkeys).toContain(settings.pubkey);
      expect(await store.service.notificationSettings.getAllSettings(2)).toHaveLength(2);
    });
  });

  describe('notification logs', () => {
    it('logNotification stores an entry with id <pubkey>-<now>-<random>, created now, modified the timestamp', async () => {
      const pubkey = newPubkey();
      const logged = await service.notificationLog.logNotification(pubkey, {
        title: 'New follower',
        body: 'Someone followed you',
        timestamp: base - 5,
      });
      expect(logged).toEqual({
        id: expect.stringMatching(new RegExp(`^${pubkey}-${base}-[0-9a-f]+$`)),
        pubkey,
        type: 'notification-log',
        title: 'New follower',
        body: 'Someone followed you',
        created: base,
        modified: base - 5,
      });
      const plain = await service.notificationLog.logNotification(pubkey, { content: 'hello', template: 'welcome' });
      expect(plain).toMatchObject({ content: 'hello', template: 'welcome', created: base, modified: base });
      expect(plain.id).not.toBe(logged.id);
      expect(await service.notificationLog.getUserNotificationHistory(pubkey)).toHaveLength(2);
    });

    it("get24HourNotificationCount: the user's logs created in the last 24 hours, the boundary included", async () => {
      const pubkey = newPubkey();
      for (const at of [base - day - 1, base - day, base - 1000, base]) {
        clock = at;
        await service.notificationLog.logNotification(pubkey, { title: `at ${at}` });
      }
      clock = base;
      await service.notificationLog.logNotification(newPubkey(), { title: 'someone else' });
      expect(await service.notificationLog.get24HourNotificationCount(pubkey)).toBe(3);
      clock = base + day;
      expect(await service.notificationLog.get24HourNotificationCount(pubkey)).toBe(1);
      expect(await service.notificationLog.get24HourNotificationCount(newPubkey())).toBe(0);
    });

    it("getUserNotificationHistory: the user's logs newest first by created, at most limit, 50 by default", async () => {
      const pubkey = newPubkey();
      const logged = [];
      for (let at = 0; at < 51; at += 1) {
        clock = base + ((at * 13) % 51) * 1000;
        logged.push(await service.notificationLog.logNotification(pubkey, { title: `n${at}` }));
      }
      await service.notificationLog.logNotification(newPubkey(), { title: 'someone else' });
      const sorted = newestFirst(logged, 'created');
      expect(await service.notificationLog.getUserNotificationHistory(pubkey)).toEqual(sorted.slice(0, 50));
      expect(await service.notificationLog.getUserNotificationHistory(pubkey, 3)).toEqual(sorted.slice(0, 3));
      expect(await service.notificationLog.getUserNotificationHistory(newPubkey())).toEqual([]);
    });
  });
}
