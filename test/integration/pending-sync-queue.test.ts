import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Container, CosmosClient } from '@azure/cosmos';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { createCosmosClient } from '../../shared/cosmos/cosmos-client.js';
import type { BackupJobDocument } from '../../shared/domain/document-types.js';
import { normalizeDocument } from '../../shared/domain/mapping.js';
import { mirrorTarget } from '../../shared/mirror/pending-sync.js';
import { retryScheduleName } from '../../shared/mirror/pending-sync-retry.js';
import { handleMigrationMessage, type MessageHandling } from '../../shared/queue/handle-migration-message.js';
import RepositoryFactory from '../../shared/repositories/repository-factory.js';
import { getServices, useServices } from '../../shared/runtime/services.js';
import { enqueueMigrationMessages, withdrawMessage } from '../../shared/storage-queue/send-messages.js';
import { startCosmosServer } from '../support/cosmos.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';
import { spawnCli } from '../support/run-cli.js';

/**
 * Dual mode with PostgreSQL primary and the migration queue on Azurite: a mirror write that fails
 * (Cosmos is a server that has stopped, so every SDK call fails to connect) is recorded in
 * pending_sync and schedules a `pending-sync` message, which the queue function handles as the host
 * would. The message is held back until the entry is due (10 s, the first backoff): the queue tests pin
 * the clock of this process, which the app, the Cosmos-protocol server and Azurite all read, and move it
 * to the delivery time instead of waiting. `npm run migrate:pending-sync` is run as users run it.
 */

let app: FunctionAppEnvironment;
let stoppedClient: CosmosClient;
let unreachable: Container;
let stoppedConnectionString: string;
let stoppedKey: string;

beforeAll(async () => {
  app = await startFunctionAppEnvironment({ USE_POSTGRESQL: 'true', DUAL_DATABASE_MODE: 'true' });
  const stopped = await startCosmosServer();
  await stopped.stop();
  stoppedConnectionString = stopped.connectionString;
  stoppedKey = stopped.key;
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
afterAll(async () => {
  stoppedClient?.dispose();
  await app?.stop();
});
// Every test starts with Cosmos reachable, nothing pending, no retry scheduled and an empty queue.
beforeEach(async () => {
  app.restoreServices();
  await app.db.prisma.pendingSync.deleteMany({ where: { target: mirrorTarget } });
  await app.db.prisma.syncState.deleteMany({ where: { name: retryScheduleName } });
  await app.queues.main.clearMessages();
});

/** The process's services as the app has them, but with Cosmos unreachable. */
function cosmosDown(): void {
  useServices({ config: app.config, prisma: app.db.prisma, cosmos: unreachable });
}

function backupJob(): BackupJobDocument {
  return {
    id: randomUUID(),
    pubkey: randomBytes(32).toString('hex'),
    type: 'backup-job',
    status: 'pending',
    backupType: 'full',
    requested: 1_732_000_000_000,
  };
}

async function cosmosCopy(document: { id: string; pubkey: string }): Promise<Record<string, unknown> | undefined> {
  const { resource } = await app.container.item(document.id, document.pubkey).read<Record<string, unknown>>();
  return resource && normalizeDocument(resource);
}

const pendingEntries = () => app.db.prisma.pendingSync.findMany({ where: { target: mirrorTarget }, orderBy: { documentId: 'asc' } });

/** Messages on the queue, visible or not (Storage's count is exact on an idle Azurite queue). */
async function queuedMessages(): Promise<number> {
  return (await app.queues.main.getProperties()).approximateMessagesCount ?? 0;
}

async function visibleTexts(): Promise<string[]> {
  return (await app.queues.main.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((item) => item.messageText);
}

/** When the scheduled `pending-sync` message is delivered, as recorded (epoch ms). */
async function scheduledDelivery(): Promise<number | undefined> {
  const row = await app.db.prisma.syncState.findUnique({ where: { name: retryScheduleName } });
  const at = (row?.value as { at?: unknown } | undefined)?.at;
  return typeof at === 'number' ? at : undefined;
}

describe('pending mirror writes, through the migration queue', () => {
  /** The pinned moment each test starts at; the first backoff (10 s) makes the first retry due 10 s later. */
  const start = Date.UTC(2026, 10, 24, 10, 0, 0);
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Two writes whose mirror copies fail, made at `start`. */
  async function writeWithCosmosDown(): Promise<[BackupJobDocument, BackupJobDocument]> {
    cosmosDown();
    const repository = RepositoryFactory.getBackupJobRepository();
    const first = backupJob();
    const second = backupJob();
    // The callers' writes succeed whatever the mirror does.
    expect(await repository.createBackupJob(first)).toEqual(first);
    expect(await repository.createBackupJob(second)).toEqual(second);
    return [first, second];
  }

  test('a failed mirror write is recorded, and one pending-sync message is scheduled for when it is due', async () => {
    const [first, second] = await writeWithCosmosDown();
    const entries = await pendingEntries();
    expect(entries.map((entry) => entry.documentId)).toEqual([first.id, second.id].sort());
    expect(entries.map((entry) => entry.nextAttempt.getTime())).toEqual([start + 10_000, start + 10_000]);
    // One message for both, held back until they are due: the second failure is due when the message already scheduled arrives.
    expect(await queuedMessages()).toBe(1);
    expect(await visibleTexts()).toEqual([]);
    expect(await scheduledDelivery()).toBe(start + 10_000);
  });

  test('delivered once Cosmos is back, the message lands the documents and empties pending_sync', async () => {
    const [first, second] = await writeWithCosmosDown();
    app.restoreServices();
    vi.setSystemTime(start + 9_999);
    expect(await visibleTexts()).toEqual([]);
    vi.setSystemTime(start + 10_000);
    expect((await visibleTexts()).map((text) => JSON.parse(text))).toEqual([{ kind: 'pending-sync' }]);

    const logsBefore = app.logs.length;
    expect(await app.drain()).toMatchObject({ completed: 1, failures: 0, poisoned: 0 });
    expect(await pendingEntries()).toEqual([]);
    expect(await cosmosCopy(first)).toEqual(first);
    expect(await cosmosCopy(second)).toEqual(second);
    // Nothing left, so nothing scheduled.
    expect(await queuedMessages()).toBe(0);
    expect(app.logs.slice(logsBefore).map((log) => log.message)).toEqual([
      expect.stringMatching(/: pending Cosmos writes: 2 written, 0 deleted, 0 failed again; 0 waiting$/),
      // The backlog as telemetry (docs/telemetry.md): nothing is waiting any more.
      'nostria.telemetry {"event":"pending-sync","metrics":{"nostria.pending_sync.size":0}}',
    ]);
  });

  test('with Cosmos still down, the message fails the entry again and schedules itself after the backoff, once', async () => {
    cosmosDown();
    const job = backupJob();
    await RepositoryFactory.getBackupJobRepository().createBackupJob(job);
    expect(await queuedMessages()).toBe(1);
    const deliverAt = await scheduledDelivery();
    expect(deliverAt).toBe(start + 10_000);

    // Handled when that message is delivered: the clock is pinned there rather than waited for.
    const now = new Date(deliverAt!);
    const services = getServices();
    const handling: MessageHandling = {
      services,
      enqueue: (messages, options) => enqueueMigrationMessages(app.config, messages, options),
      withdraw: (sent) => withdrawMessage(app.config, sent),
      now: () => now,
    };
    const outcome = await handleMigrationMessage(handling, { kind: 'pending-sync' });
    expect(outcome).toEqual({
      kind: 'pending-sync',
      written: 0,
      deleted: 0,
      failed: 1,
      remaining: 1,
      next: { delaySeconds: 20, sent: true },
    });
    const [entry] = await pendingEntries();
    expect(entry).toMatchObject({ documentId: job.id, attempts: 2 });
    expect(entry!.lastError).toBeTruthy();
    expect(entry!.nextAttempt.getTime()).toBe(now.getTime() + 20_000);
    expect(await scheduledDelivery()).toBe(now.getTime() + 20_000);
    // A new message, held back like the first.
    expect(await queuedMessages()).toBe(2);
    expect(await visibleTexts()).toEqual([]);

    // Another delivery at the same moment finds the next message already scheduled and sends none.
    expect(await handleMigrationMessage(handling, { kind: 'pending-sync' })).toEqual({
      kind: 'pending-sync',
      written: 0,
      deleted: 0,
      failed: 0,
      remaining: 1,
      next: { delaySeconds: 20, sent: false },
    });
    expect(await queuedMessages()).toBe(2);
  });
});

describe('npm run migrate:pending-sync', () => {
  let certDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    certDir = await mkdtemp(path.join(tmpdir(), 'nostria-pending-sync-'));
    const certFile = path.join(certDir, 'cosmos-ca.pem');
    await writeFile(certFile, String(app.cosmos.agent.options.ca));
    env = {
      PATH: process.env.PATH ?? '',
      NODE_EXTRA_CA_CERTS: certFile,
      DATABASE_URL: app.db.url,
      AZURE_COSMOSDB_CONNECTION_STRING: app.cosmos.connectionString,
      AZURE_COSMOSDB_DATABASE_NAME: app.container.database.id,
      AZURE_COSMOSDB_CONTAINER_NAME: app.container.id,
      USE_POSTGRESQL: 'true',
      DUAL_DATABASE_MODE: 'true',
    };
  });
  afterAll(() => certDir && rm(certDir, { recursive: true, force: true }));

  // A process of its own (test/support/run-cli.ts): it trusts the Cosmos server's throwaway certificate through
  // NODE_EXTRA_CA_CERTS, which Node reads at start; spawned asynchronously, so the server here keeps answering.
  const cli = async (args: string[], overrides: Record<string, string> = {}) => {
    const result = await spawnCli('pending-sync', args, { env: { ...env, ...overrides } });
    return { status: result.code, stdout: result.stdout, stderr: result.stderr };
  };

  /** As if every entry's backoff had run out. */
  const makeAllDue = () => app.db.prisma.pendingSync.updateMany({ data: { nextAttempt: new Date(Date.now() - 1000) } });

  test('--help describes it and bad arguments exit 2', async () => {
    const [help, bad] = await Promise.all([cli(['--help']), cli(['--frobnicate'])]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: npm run migrate:pending-sync/);
    expect(help.stdout).toMatch(/Exit codes:/);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/frobnicate/);
  });

  test('exits 1 while entries still fail, then copies them once Cosmos answers and exits 0', async () => {
    cosmosDown();
    await RepositoryFactory.getBackupJobRepository().createBackupJob(backupJob());
    app.restoreServices();
    const waiting = await pendingEntries();
    expect(waiting).toHaveLength(1);
    const job = waiting[0]!;

    await makeAllDue();
    const down = await cli(['--json'], { AZURE_COSMOSDB_CONNECTION_STRING: stoppedConnectionString });
    expect(down.status).toBe(1);
    const failed = JSON.parse(down.stdout);
    expect(failed).toMatchObject({ written: 0, deleted: 0, failed: 1, remaining: 1 });
    expect(failed.outcomes).toEqual([expect.objectContaining({ id: job.documentId, outcome: 'failed', error: expect.any(String) })]);
    expect(down.stdout + down.stderr).not.toContain(stoppedKey);
    expect((await pendingEntries())[0]).toMatchObject({ attempts: job.attempts + 1 });

    await makeAllDue();
    const up = await cli([]);
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(/Copied 1 pending write\(s\) to Cosmos DB: 1 written, 0 deleted\.\npending_sync is empty\./);
    expect(await pendingEntries()).toEqual([]);
    expect(await cosmosCopy({ id: job.documentId, pubkey: job.pubkey })).toMatchObject({ id: job.documentId, type: 'backup-job' });

    const idle = await cli(['--json']);
    expect(idle.status).toBe(0);
    expect(JSON.parse(idle.stdout)).toEqual({
      written: 0,
      deleted: 0,
      superseded: 0,
      failed: 0,
      outcomes: [],
      remaining: 0,
      oldestCreatedAt: null,
      oldestAgeSeconds: null,
      nextAttempt: null,
    });
  }, 60_000);
});
