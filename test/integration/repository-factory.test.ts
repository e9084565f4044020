import { randomBytes, randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Container, CosmosClient } from '@azure/cosmos';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AppConfig, loadConfig } from '../../shared/config/env.js';
import { ConfigError } from '../../shared/core/errors.js';
import { createCosmosClient } from '../../shared/cosmos/cosmos-client.js';
import type { AccountDocument, BackupJobDocument } from '../../shared/domain/document-types.js';
import { normalizeDocument } from '../../shared/domain/mapping.js';
import { mirrorTarget, nextAttemptAt, retryPendingSync } from '../../shared/mirror/pending-sync.js';
import { createPrismaRepositories } from '../../shared/postgres/prisma-repository.js';
import RepositoryFactory from '../../shared/repositories/repository-factory.js';
import { closeServices, getServices, useServices } from '../../shared/runtime/services.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
let cosmos: CosmosTestServer;
let container: Container;

beforeAll(async () => {
  [db, cosmos] = await Promise.all([createTestDatabase(), startCosmosServer()]);
  container = await createTestContainer(cosmos.client);
});
afterAll(async () => {
  await closeServices();
  await Promise.all([db?.drop(), cosmos?.stop()]);
});
afterEach(() => closeServices());

const newPubkey = () => randomBytes(32).toString('hex');

function account(pubkey = newPubkey()): AccountDocument {
  return {
    id: `account-${pubkey}`,
    pubkey,
    type: 'account',
    username: `user-${randomBytes(4).toString('hex')}`,
    tier: 'free',
    subscription: { tier: 'free', entitlements: { notificationsPerDay: 5, features: [] } },
    created: 1_732_000_000_000,
    modified: 1_732_000_000_000,
  };
}

function backupJob(pubkey = newPubkey()): BackupJobDocument {
  return { id: randomUUID(), pubkey, type: 'backup-job', status: 'pending', backupType: 'full', requested: 1_732_000_000_000 };
}

/** Flags (and connection settings) as the environment would give them. */
function config(flags: { usePostgres: boolean; dual: boolean }, settings: Record<string, string | undefined> = {}): AppConfig {
  return loadConfig({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.connectionString,
    USE_POSTGRESQL: String(flags.usePostgres),
    DUAL_DATABASE_MODE: String(flags.dual),
    ...settings,
  });
}

async function inPostgres(table: string, id: string): Promise<boolean> {
  const result = await db.pool.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
  return result.rowCount === 1;
}

async function cosmosCopy(target: Container, document: { id: string; pubkey: string }): Promise<Record<string, unknown> | undefined> {
  const { resource } = await target.item(document.id, document.pubkey).read<Record<string, unknown>>();
  return resource && normalizeDocument(resource);
}

async function pendingEntries() {
  return db.prisma.pendingSync.findMany({ where: { target: mirrorTarget } });
}

describe('RepositoryFactory flags', () => {
  const combinations = [
    { usePostgres: false, dual: false, lands: { cosmos: true, postgres: false }, reads: 'cosmos' },
    // Cosmos primary in dual mode: the change-feed sync function copies to PostgreSQL, not the factory.
    { usePostgres: false, dual: true, lands: { cosmos: true, postgres: false }, reads: 'cosmos' },
    { usePostgres: true, dual: false, lands: { cosmos: false, postgres: true }, reads: 'postgres' },
    { usePostgres: true, dual: true, lands: { cosmos: true, postgres: true }, reads: 'postgres' },
  ] as const;

  it.each(combinations)(
    'USE_POSTGRESQL=$usePostgres DUAL_DATABASE_MODE=$dual: writes land in $lands, reads come from $reads',
    async ({ usePostgres, dual, lands, reads }) => {
      useServices({ config: config({ usePostgres, dual }), prisma: db.prisma, cosmos: container });
      const written = account();
      await RepositoryFactory.getAccountRepository().create(written);
      expect(await inPostgres('accounts', written.id)).toBe(lands.postgres);
      expect((await cosmosCopy(container, written)) !== undefined).toBe(lands.cosmos);

      // A document present only in the other database is invisible: reads go to the primary alone.
      const elsewhere = backupJob();
      if (reads === 'cosmos') await createPrismaRepositories(db.prisma)['backup-job'].create(elsewhere);
      else await container.items.create(elsewhere);
      const repository = RepositoryFactory.getBackupJobRepository();
      expect(await repository.getBackupJob(elsewhere.id, elsewhere.pubkey)).toBeNull();
      expect(await RepositoryFactory.getAccountRepository().getByPubkey(written.pubkey)).toEqual(written);
    },
  );

  it.each([
    { usePostgres: false, dual: false },
    { usePostgres: true, dual: true },
  ])('hands out the service repositories with exactly the methods the service calls (USE_POSTGRESQL=$usePostgres)', (flags) => {
    useServices({ config: config(flags), prisma: db.prisma, cosmos: container });
    const methods = (repository: object) => Object.keys(repository).sort();
    expect(methods(RepositoryFactory.getAccountRepository())).toEqual(
      [
        'create',
        'isUsernameTaken',
        'getByPubkey',
        'getByUsername',
        'update',
        'updateLoginDate',
        'getAllAccounts',
        'deleteAccount',
        'hasPremiumSubscription',
      ].sort(),
    );
    expect(methods(RepositoryFactory.getUserSettingsRepository())).toEqual(
      [
        'upsertUserSettings',
        'getUserSettings',
        'updateUserSettings',
        'deleteUserSettings',
        'getDefaultSettings',
        'getUsersByReleaseChannel',
      ].sort(),
    );
    expect(methods(RepositoryFactory.getBackupJobRepository())).toEqual(
      ['createBackupJob', 'getBackupJob', 'getUserBackupJobs', 'updateBackupJobStatus', 'deleteBackupJob', 'getPendingBackupJobs'].sort(),
    );
    expect(methods(RepositoryFactory.getPaymentRepository())).toEqual(['create', 'update', 'get', 'getAllPayments'].sort());
    expect(methods(RepositoryFactory.getNotificationSubscriptionRepository())).toEqual(
      [
        'createSubscription',
        'getUserSubscriptions',
        'getSubscriptionByDeviceKey',
        'deleteSubscription',
        'getAllUserPubkeys',
        'getAllSubscriptions',
      ].sort(),
    );
    expect(methods(RepositoryFactory.getNotificationSettingsRepository())).toEqual(
      ['upsertSettings', 'getSettings', 'deleteSettings', 'getAllSettings'].sort(),
    );
    expect(methods(RepositoryFactory.getNotificationLogRepository())).toEqual(
      ['logNotification', 'get24HourNotificationCount', 'getUserNotificationHistory'].sort(),
    );
    expect(Object.keys(RepositoryFactory.getRepositories()).sort()).toEqual([
      'account',
      'account-settings',
      'backup-job',
      'notification-log',
      'notification-settings',
      'notification-subscription',
      'payment',
    ]);
  });

  it('never touches Cosmos with PostgreSQL primary and dual mode off (no Cosmos settings needed)', async () => {
    useServices({ config: config({ usePostgres: true, dual: false }, { AZURE_COSMOSDB_CONNECTION_STRING: undefined }) });
    const written = account();
    await RepositoryFactory.getAccountRepository().create(written);
    expect(await inPostgres('accounts', written.id)).toBe(true);
  });

  it('never touches PostgreSQL with Cosmos primary (no DATABASE_URL needed)', async () => {
    useServices({ config: config({ usePostgres: false, dual: true }, { DATABASE_URL: undefined }), cosmos: container });
    const written = account();
    await RepositoryFactory.getAccountRepository().create(written);
    expect(await cosmosCopy(container, written)).toEqual(written);
  });

  it('names the missing setting when dual mode needs Cosmos and it is not configured', () => {
    useServices({ config: config({ usePostgres: true, dual: true }, { AZURE_COSMOSDB_CONNECTION_STRING: undefined }), prisma: db.prisma });
    expect(() => RepositoryFactory.getRepositories()).toThrow(ConfigError);
    expect(() => RepositoryFactory.getRepositories()).toThrow(/AZURE_COSMOSDB_CONNECTION_STRING/);
  });
});

describe('dual mode with PostgreSQL primary', () => {
  /**
   * The moment each test starts at. The clock of this process is pinned there (and moved by the tests
   * that need time to pass): the repositories stamp rows with it and the Cosmos-protocol server, which
   * runs in this process, stamps `_ts` with it.
   */
  const start = Date.UTC(2026, 10, 24, 10, 0, 0);
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
    // Each test counts the entries its own writes leave.
    await db.prisma.pendingSync.deleteMany();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('mirrors creates, updates and deletes to Cosmos after the PostgreSQL write', async () => {
    useServices({ config: config({ usePostgres: true, dual: true }), prisma: db.prisma, cosmos: container });
    const repository = RepositoryFactory.getAccountRepository();
    const document = account();

    await repository.create(document);
    expect(await cosmosCopy(container, document)).toEqual(document);
    // Stamped as written in PostgreSQL at that second.
    const stamped = await db.pool.query<{ cosmosTs: string }>('SELECT "cosmosTs" FROM accounts WHERE id = $1', [document.id]);
    expect(Number(stamped.rows[0]?.cosmosTs)).toBe(start / 1000);

    const updated = { ...document, tier: 'premium' as const, lastLoginDate: 1_733_000_000_000 };
    await repository.update(updated);
    expect(await cosmosCopy(container, document)).toEqual({ ...updated, modified: start });

    await repository.updateLoginDate(document.pubkey);
    expect(await cosmosCopy(container, document)).toEqual({ ...updated, lastLoginDate: start, modified: start });

    await repository.deleteAccount(document.pubkey);
    expect(await inPostgres('accounts', document.id)).toBe(false);
    expect(await cosmosCopy(container, document)).toBeUndefined();
    expect(await pendingEntries()).toEqual([]);
  });

  it('does not mirror a write that PostgreSQL refused', async () => {
    useServices({ config: config({ usePostgres: true, dual: true }), prisma: db.prisma, cosmos: container });
    const repository = RepositoryFactory.getBackupJobRepository();
    const missing = backupJob();
    await expect(repository.updateBackupJobStatus(missing.id, missing.pubkey, 'completed')).rejects.toThrow(/does not exist/);
    expect(await cosmosCopy(container, missing)).toBeUndefined();
  });

  describe('when the mirror fails', () => {
    let stoppedClient: CosmosClient;
    let unreachable: Container;

    beforeAll(async () => {
      // A real failure: the mirror points at a Cosmos server that has stopped, so every SDK call fails to connect.
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

    it('keeps the write, records it in pending_sync, and retryPendingSync brings Cosmos up to date', async () => {
      const services = useServices({ config: config({ usePostgres: true, dual: true }), prisma: db.prisma, cosmos: unreachable });
      const repository = RepositoryFactory.getBackupJobRepository();
      const kept = backupJob();
      const removed = backupJob();
      // The Cosmos account that will be reachable again already holds a copy of the job PostgreSQL deletes below.
      const recovered = await createTestContainer(cosmos.client);
      await recovered.items.create(removed);

      expect(await repository.createBackupJob(kept)).toEqual(kept);
      await repository.createBackupJob(removed);
      const changed = { ...kept, status: 'in_progress' as const, started: 1_732_000_100_000 };
      await repository.updateBackupJobStatus(kept.id, kept.pubkey, 'in_progress', { started: changed.started });
      await repository.deleteBackupJob(removed.id, removed.pubkey);
      expect(await repository.getBackupJob(kept.id, kept.pubkey)).toEqual(changed);
      expect(await repository.getBackupJob(removed.id, removed.pubkey)).toBeNull();

      const entries = await pendingEntries();
      const byId = (a: { documentId: string }, b: { documentId: string }) => a.documentId.localeCompare(b.documentId);
      // Two failed writes each: the second joined the entry (writes), and left its first failure's backoff alone (attempts).
      expect(
        entries
          .map(({ documentType, pubkey, documentId, attempts, writes }) => ({ documentType, pubkey, documentId, attempts, writes }))
          .sort(byId),
      ).toEqual(
        [
          { documentType: 'backup-job', pubkey: kept.pubkey, documentId: kept.id, attempts: 1, writes: 2 },
          { documentType: 'backup-job', pubkey: removed.pubkey, documentId: removed.id, attempts: 1, writes: 2 },
        ].sort(byId),
      );
      for (const entry of entries) {
        expect(entry.lastError).toBeTruthy();
        expect(entry.lastError).not.toContain(cosmos.key);
        expect(entry.nextAttempt.getTime()).toBeGreaterThan(entry.createdAt.getTime());
      }

      // Nothing is due before its nextAttempt.
      const earliest = new Date(Math.min(...entries.map((entry) => entry.nextAttempt.getTime())) - 1);
      expect(await retryPendingSync(services, { now: earliest })).toEqual([]);

      // Still unreachable: the retry fails, and the entry backs off further.
      const firstRetry = new Date(Math.max(...entries.map((entry) => entry.nextAttempt.getTime())));
      const failed = await retryPendingSync(services, { now: firstRetry, limit: 1 });
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ outcome: 'failed' });
      const backedOff = await db.prisma.pendingSync.findUniqueOrThrow({
        where: { target_pubkey_documentId: { target: mirrorTarget, pubkey: failed[0]!.pubkey, documentId: failed[0]!.id } },
      });
      expect(backedOff.attempts).toBe(2);
      expect(backedOff.nextAttempt).toEqual(nextAttemptAt(2, firstRetry));

      // Cosmos is reachable again, still holding its stale copy of the job deleted meanwhile.
      const reachable = useServices({ config: config({ usePostgres: true, dual: true }), prisma: db.prisma, cosmos: recovered });
      const outcomes = await retryPendingSync(reachable, { now: new Date(firstRetry.getTime() + 3_600_000) });
      expect(outcomes.map(({ id, outcome }) => ({ id, outcome })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
        [
          { id: kept.id, outcome: 'written' },
          { id: removed.id, outcome: 'deleted' },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
      expect(await cosmosCopy(recovered, kept)).toEqual(changed);
      expect(await cosmosCopy(recovered, removed)).toBeUndefined();
      expect(await pendingEntries()).toEqual([]);

      // Idempotent: running again finds nothing to do and changes nothing.
      expect(await retryPendingSync(reachable, { now: new Date(firstRetry.getTime() + 7_200_000) })).toEqual([]);
      expect(await cosmosCopy(recovered, kept)).toEqual(changed);
    });

    it("leaves a Cosmos copy alone that was written after PostgreSQL's state (a rollback to Cosmos primary)", async () => {
      const target = await createTestContainer(cosmos.client);
      useServices({ config: config({ usePostgres: true, dual: true }), prisma: db.prisma, cosmos: unreachable });
      const repository = RepositoryFactory.getBackupJobRepository();
      const updatedInPostgres = backupJob();
      const deletedInPostgres = backupJob();
      await repository.createBackupJob(updatedInPostgres);
      await repository.createBackupJob(deletedInPostgres);
      await repository.deleteBackupJob(deletedInPostgres.id, deletedInPostgres.pubkey);
      expect(await pendingEntries()).toHaveLength(2);

      // Rolled back to Cosmos primary: the service writes both documents to Cosmos, a minute later.
      vi.setSystemTime(start + 60_000);
      const newerInCosmos = { ...updatedInPostgres, status: 'completed' as const, completed: 1_732_000_900_000 };
      const recreatedInCosmos = { ...deletedInPostgres, status: 'scheduled' as const };
      await target.items.create(newerInCosmos);
      await target.items.create(recreatedInCosmos);

      const services = useServices({ config: config({ usePostgres: false, dual: true }), prisma: db.prisma, cosmos: target });
      const outcomes = await retryPendingSync(services, { now: new Date(start + 3_600_000) });
      expect(outcomes.map(({ outcome }) => outcome)).toEqual(['superseded', 'superseded']);
      expect(await cosmosCopy(target, newerInCosmos)).toEqual(newerInCosmos);
      expect(await cosmosCopy(target, recreatedInCosmos)).toEqual(recreatedInCosmos);
      expect(await pendingEntries()).toEqual([]);
    });
  });
});

describe('health checks', () => {
  const secretPassword = `pw-${randomBytes(8).toString('hex')}`;
  let closedPort: number;
  let silent: Server;
  let silentPort: number;
  const silentSockets = new Set<Socket>();

  beforeAll(async () => {
    closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    // Accepts connections and never answers: a hung server.
    silent = createServer((socket) => silentSockets.add(socket));
    silentPort = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)),
    );
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => silent?.close(() => resolve()));
  });

  it('reports both databases healthy, with latency', async () => {
    useServices({ config: config({ usePostgres: true, dual: true }), prisma: db.prisma, cosmos: container });
    const [postgres, cosmosHealth] = await Promise.all([RepositoryFactory.checkPostgresHealth(), RepositoryFactory.checkCosmosHealth()]);
    expect(postgres).toEqual({ healthy: true, latencyMs: expect.any(Number) });
    expect(cosmosHealth).toEqual({ healthy: true, latencyMs: expect.any(Number) });
  });

  it('connects PostgreSQL from DATABASE_URL on first use', async () => {
    useServices({ config: config({ usePostgres: true, dual: false }) });
    expect(await RepositoryFactory.checkPostgresHealth()).toMatchObject({ healthy: true });
    expect(getServices().prisma).not.toBe(db.prisma);
  });

  it('reports an unreachable PostgreSQL as unhealthy without its password', async () => {
    const url = `postgresql://nostria:${secretPassword}@127.0.0.1:${closedPort}/nostria`;
    useServices({ config: config({ usePostgres: true, dual: false }, { DATABASE_URL: url }) });
    const health = await RepositoryFactory.checkPostgresHealth({ timeoutMs: 10_000 });
    expect(health.healthy).toBe(false);
    expect(health.error).toBeTruthy();
    expect(health.error).not.toContain(secretPassword);
    expect(health.latencyMs).toEqual(expect.any(Number));
  });

  it('reports a PostgreSQL server that never answers as unhealthy instead of hanging', async () => {
    const url = `postgresql://nostria:${secretPassword}@127.0.0.1:${silentPort}/nostria`;
    useServices({ config: config({ usePostgres: true, dual: false }, { DATABASE_URL: url }) });
    const health = await RepositoryFactory.checkPostgresHealth({ timeoutMs: 300 });
    // Let go of the stuck connection so the client can be closed after the test.
    for (const socket of silentSockets) socket.destroy();
    expect(health).toMatchObject({ healthy: false, error: 'no answer within 300 ms' });
  });

  it('reports an unreachable Cosmos account as unhealthy without its key', async () => {
    const key = randomBytes(64).toString('base64');
    const connectionString = `AccountEndpoint=https://127.0.0.1:${closedPort}/;AccountKey=${key};`;
    useServices({ config: config({ usePostgres: false, dual: false }, { AZURE_COSMOSDB_CONNECTION_STRING: connectionString }) });
    const health = await RepositoryFactory.checkCosmosHealth({ timeoutMs: 5_000 });
    expect(health.healthy).toBe(false);
    expect(health.error).toBeTruthy();
    expect(health.error).not.toContain(key);
  });

  it('reports a missing Cosmos container as unhealthy', async () => {
    const missing = cosmos.client.database(`absent-${randomBytes(4).toString('hex')}`).container('Documents');
    useServices({ config: config({ usePostgres: false, dual: false }), cosmos: missing });
    const health = await RepositoryFactory.checkCosmosHealth();
    expect(health.healthy).toBe(false);
    expect(health.error).toMatch(/not ?found|404|does not exist/i);
  });

  it('reports missing Cosmos settings by name', async () => {
    useServices({ config: config({ usePostgres: false, dual: false }, { AZURE_COSMOSDB_CONNECTION_STRING: undefined }) });
    const health = await RepositoryFactory.checkCosmosHealth();
    expect(health).toMatchObject({ healthy: false, error: expect.stringContaining('AZURE_COSMOSDB_CONNECTION_STRING') });
  });
});
