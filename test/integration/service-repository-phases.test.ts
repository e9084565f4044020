/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- ChangeFeedStartFrom.Now() returns a class
   that does not extend ChangeFeedStartFrom, the type the iterator options declare: the SDK's documented usage. */
import { randomBytes, randomUUID } from 'node:crypto';
import { ChangeFeedMode, ChangeFeedStartFrom, type Container, type CosmosClient, StatusCodes } from '@azure/cosmos';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AppConfig, loadConfig } from '../../shared/config/env.js';
import { createCosmosClient } from '../../shared/cosmos/cosmos-client.js';
import { createCosmosRepositories } from '../../shared/cosmos/cosmos-repository.js';
import { documentTypeNames } from '../../shared/domain/document-types.js';
import type { DocumentRepository, Repositories } from '../../shared/domain/repository-contract.js';
import { mirrorTarget, retryPendingSync } from '../../shared/mirror/pending-sync.js';
import { createPrismaRepositories } from '../../shared/postgres/prisma-repository.js';
import RepositoryFactory from '../../shared/repositories/repository-factory.js';
import { closeServices, getServices, useServices } from '../../shared/runtime/services.js';
import { syncChangeBatch } from '../../shared/sync/sync-change-batch.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * The service's repositories through each phase of the switch (README, "The service's repositories"):
 * - Cosmos primary, dual mode: every write lands in Cosmos only; PostgreSQL gets it from the change feed,
 *   through the sync, once (the repositories never write PostgreSQL themselves);
 * - PostgreSQL primary, dual mode: every write method, deletes included, is mirrored to Cosmos; a mirror write
 *   that fails is recorded in pending_sync and the retry brings Cosmos to PostgreSQL's state.
 * In each, the two databases end holding the same documents, compared type by type for every user touched.
 */

let db: TestDatabase;
let cosmos: CosmosTestServer;

beforeAll(async () => {
  [db, cosmos] = await Promise.all([createTestDatabase(), startCosmosServer()]);
});
afterAll(async () => {
  await closeServices();
  await Promise.all([db?.drop(), cosmos?.stop()]);
});
afterEach(() => closeServices());

const newPubkey = () => randomBytes(32).toString('hex');

function config(usePostgres: boolean): AppConfig {
  return loadConfig({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.connectionString,
    USE_POSTGRESQL: String(usePostgres),
    DUAL_DATABASE_MODE: 'true',
  });
}

/** The service's repositories as RepositoryFactory hands them out under the current settings. */
function service() {
  return {
    account: RepositoryFactory.getAccountRepository(),
    userSettings: RepositoryFactory.getUserSettingsRepository(),
    backupJob: RepositoryFactory.getBackupJobRepository(),
    payment: RepositoryFactory.getPaymentRepository(),
    subscriptions: RepositoryFactory.getNotificationSubscriptionRepository(),
    notificationSettings: RepositoryFactory.getNotificationSettingsRepository(),
    logs: RepositoryFactory.getNotificationLogRepository(),
  };
}

/**
 * Every write method of the seven repositories, as the service would call them, for two users: `kept` ends
 * with a document of every type, `removed` had one of every type and ends with none but a log (logs are
 * never deleted by the service).
 */
async function everyWriteMethod(kept: string, removed: string): Promise<void> {
  const repositories = service();
  for (const pubkey of [kept, removed]) {
    const subscription = { tier: 'premium', entitlements: { notificationsPerDay: 50, features: ['backup'] } };
    await repositories.account.create({ pubkey, username: `user-${pubkey.slice(0, 8)}`, tier: 'free', subscription, created: 1 });
    await repositories.account.update({ pubkey, username: `User-${pubkey.slice(0, 8)}`, tier: 'premium', subscription, created: 1 });
    await repositories.account.updateLoginDate(pubkey);
    await repositories.userSettings.upsertUserSettings(pubkey, { releaseChannel: 'beta', xAccessToken: 'token' });
    await repositories.userSettings.updateUserSettings(pubkey, { socialSharing: false });
    const job = { id: randomUUID(), pubkey, status: 'pending' as const, backupType: 'full' as const, requested: Date.now() };
    await repositories.backupJob.createBackupJob(job);
    await repositories.backupJob.updateBackupJobStatus(job.id, pubkey, 'in_progress');
    const payment = {
      id: `payment-${randomUUID()}`,
      pubkey,
      paymentType: 'ln' as const,
      lnHash: `hash-${randomUUID()}`,
      lnInvoice: 'lnbc1',
      lnAmountSat: 21_000,
      tier: 'premium' as const,
      billingCycle: 'monthly' as const,
      priceCents: 999,
      isPaid: false,
      expires: Date.now() + 3_600_000,
      created: Date.now(),
    };
    await repositories.payment.create(payment);
    await repositories.payment.update({ ...payment, isPaid: true, paid: Date.now() });
    const device = `BP${randomBytes(6).toString('hex')}`;
    await repositories.subscriptions.createSubscription(pubkey, {
      endpoint: 'https://push.example/1',
      keys: { p256dh: device, auth: 'a' },
    });
    await repositories.notificationSettings.upsertSettings(pubkey, { filters: { kinds: [1] } });
    await repositories.logs.logNotification(pubkey, { title: 'New follower' });
    if (pubkey === removed) {
      await repositories.account.deleteAccount(pubkey);
      await repositories.userSettings.deleteUserSettings(pubkey);
      await repositories.backupJob.deleteBackupJob(job.id, pubkey);
      await repositories.subscriptions.deleteSubscription(pubkey, device);
      await repositories.notificationSettings.deleteSettings(pubkey);
    }
  }
  // Payments are never deleted by the service; its second user's stays, like its log.
}

/** Each type's documents of each user, sorted by id: what a database holds for them, as the service sees it. */
async function holdings(repositories: Repositories, pubkeys: string[]): Promise<Record<string, Record<string, unknown[]>>> {
  const state: Record<string, Record<string, unknown[]>> = {};
  for (const pubkey of pubkeys) {
    state[pubkey] = {};
    for (const type of documentTypeNames) {
      const documents = await (repositories[type] as DocumentRepository).listByPubkey(pubkey);
      state[pubkey][type] = [...documents].sort((a, b) => a.id.localeCompare(b.id));
    }
  }
  return state;
}

/** How many rows PostgreSQL holds for these users, over the seven tables. */
async function postgresRows(pubkeys: string[]): Promise<number> {
  let rows = 0;
  for (const type of documentTypeNames)
    rows += (await createPrismaRepositories(db.prisma)[type].pubkeysOf({})).filter((pubkey) => pubkeys.includes(pubkey)).length;
  return rows;
}

describe('Cosmos primary, dual mode (USE_POSTGRESQL=false, DUAL_DATABASE_MODE=true)', () => {
  it('writes land in Cosmos only, and reach PostgreSQL once, through the change-feed sync, deletes included', async () => {
    const container = await createTestContainer(cosmos.client);
    // The sync function's view: every change from now on, deletes included.
    const feed = container.items.getChangeFeedIterator({
      changeFeedStartFrom: ChangeFeedStartFrom.Now(),
      changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
    });
    expect((await feed.readNext()).statusCode).toBe(StatusCodes.NotModified);

    useServices({ config: config(false), prisma: db.prisma, cosmos: container });
    const [kept, removed] = [newPubkey(), newPubkey()];
    await everyWriteMethod(kept, removed);

    const inCosmos = await holdings(createCosmosRepositories(container), [kept, removed]);
    expect(Object.values(inCosmos[kept] ?? {}).every((documents) => documents.length === 1)).toBe(true);
    expect(
      Object.entries(inCosmos[removed] ?? {})
        .filter(([, documents]) => documents.length > 0)
        .map(([type]) => type)
        .sort(),
    ).toEqual(['notification-log', 'payment']);
    // The repositories wrote nothing to PostgreSQL themselves.
    expect(await postgresRows([kept, removed])).toBe(0);

    const changes: unknown[] = [];
    for (let page = await feed.readNext(); page.statusCode !== StatusCodes.NotModified; page = await feed.readNext()) {
      changes.push(...(page.result as unknown[]));
    }
    const outcome = await syncChangeBatch(getServices(), changes, {
      mode: 'AllVersionsAndDeletes',
      willRetry: true,
      enqueue: () => Promise.reject(new Error('nothing is deferred in this test')),
    });
    expect(outcome).toMatchObject({ kind: 'applied', quarantined: 0, failed: 0 });
    expect(await holdings(createPrismaRepositories(db.prisma), [kept, removed])).toEqual(inCosmos);
  });
});

describe('PostgreSQL primary, dual mode (USE_POSTGRESQL=true, DUAL_DATABASE_MODE=true)', () => {
  it('mirrors every write method to Cosmos, deletes included, and removes the older copies Cosmos still holds', async () => {
    const container = await createTestContainer(cosmos.client);
    const [kept, removed] = [newPubkey(), newPubkey()];
    // Copies from before the switch that PostgreSQL never had: an account whose id is its pubkey, settings typed user-settings.
    await container.items.create({ id: removed, pubkey: removed, type: 'account', tier: 'free', subscription: {}, created: 1 });
    await container.items.create({ id: `user-settings-${kept}`, pubkey: kept, type: 'user-settings', socialSharing: true, created: 1 });

    useServices({ config: config(true), prisma: db.prisma, cosmos: container });
    await everyWriteMethod(kept, removed);

    const inPostgres = await holdings(createPrismaRepositories(db.prisma), [kept, removed]);
    expect(await holdings(createCosmosRepositories(container), [kept, removed])).toEqual(inPostgres);
    expect(Object.values(inPostgres[kept] ?? {}).every((documents) => documents.length === 1)).toBe(true);
    expect(await db.prisma.pendingSync.count({ where: { target: mirrorTarget, pubkey: { in: [kept, removed] } } })).toBe(0);
  });

  describe('when Cosmos cannot be written', () => {
    let stoppedClient: CosmosClient;
    let unreachable: Container;

    beforeAll(async () => {
      // A real failure: a Cosmos endpoint that has stopped answering.
      const stopped = await startCosmosServer();
      await stopped.stop();
      stoppedClient = createCosmosClient(
        {
          auth: { kind: 'connectionString', connectionString: stopped.connectionString },
          databaseName: 'NostriaDB',
          containerName: 'Documents',
        },
        { endpointDiscovery: false },
      );
      unreachable = stoppedClient.database('NostriaDB').container('Documents');
    });
    afterAll(() => stoppedClient?.dispose());

    it(
      'keeps every write in PostgreSQL, records each document in pending_sync, and the retry brings Cosmos to the ' + 'same state',
      async () => {
        const [kept, removed] = [newPubkey(), newPubkey()];
        // The Cosmos account as it will be when it answers again: older copies, some of documents PostgreSQL deletes.
        const recovered = await createTestContainer(cosmos.client);
        await recovered.items.create({ id: removed, pubkey: removed, type: 'account', tier: 'free', subscription: {}, created: 1 });
        await recovered.items.create({ id: `user-settings-${removed}`, pubkey: removed, type: 'user-settings', created: 1 });
        await recovered.items.create({ id: `user-settings-${kept}`, pubkey: kept, type: 'user-settings', socialSharing: true, created: 1 });

        useServices({ config: config(true), prisma: db.prisma, cosmos: unreachable });
        await everyWriteMethod(kept, removed);
        const inPostgres = await holdings(createPrismaRepositories(db.prisma), [kept, removed]);
        expect(Object.values(inPostgres[kept] ?? {}).every((documents) => documents.length === 1)).toBe(true);

        const pending = new Set(
          (await db.prisma.pendingSync.findMany({ where: { target: mirrorTarget, pubkey: { in: [kept, removed] } } })).map(
            (entry) => entry.documentId,
          ),
        );
        // Every document PostgreSQL holds waits for its copy, and so does every id a deleted per-user document has been known by.
        const held = Object.values(inPostgres).flatMap((byType) => Object.values(byType).flat() as Array<{ id: string }>);
        for (const { id } of held) expect(pending).toContain(id);
        for (const id of [
          removed,
          `account-${removed}`,
          `account-settings-${removed}`,
          `user-settings-${removed}`,
          `notification-settings-${removed}`,
        ]) {
          expect(pending).toContain(id);
        }

        const reachable = useServices({ config: config(true), prisma: db.prisma, cosmos: recovered });
        const outcomes = await retryPendingSync(reachable, { now: new Date(Date.now() + 24 * 3_600_000), limit: 1000 });
        expect(outcomes.filter((outcome) => outcome.outcome === 'failed')).toEqual([]);
        expect(await holdings(createCosmosRepositories(recovered), [kept, removed])).toEqual(inPostgres);
        expect(await db.prisma.pendingSync.count({ where: { target: mirrorTarget, pubkey: { in: [kept, removed] } } })).toBe(0);
      },
    );
  });
});
