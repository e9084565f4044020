import { randomBytes } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingSyncCommand } from '../../cli/commands/pending-sync.js';
import { type CosmosDouble, startCosmosDouble } from '../../dev/cosmos-double/index.js';
import { loadConfig } from '../../shared/config/env.js';
import { createCosmosClient, documentsContainer } from '../../shared/cosmos/cosmos-client.js';
import { normalizeDocument } from '../../shared/domain/mapping.js';
import { mirrorTarget, nextAttemptAt } from '../../shared/mirror/pending-sync.js';
import RepositoryFactory from '../../shared/repositories/repository-factory.js';
import { closeServices, useServices } from '../../shared/runtime/services.js';
import { getMigrationStats } from '../../shared/stats/migration-stats.js';
import { createTestContainer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { baseEnv, type Environment, runCli } from '../support/run-cli.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * `pending_sync` under the operator's hand. Dual mode with PostgreSQL primary, Cosmos (the double) behind a real
 * TCP proxy that refuses every connection while "Cosmos is down": twenty concurrent updates of one account all
 * land in PostgreSQL and all fail to mirror, and leave ONE entry due one backoff step after the first failure
 * (the writes join it; they do not push it out). `migrate:pending-sync` exits 1 while entries remain, saying how
 * many and the oldest; `--now` takes every entry whether due or not, and empties the backlog once Cosmos answers.
 * The command line runs in this process (the double speaks plain HTTP here).
 */

let double: CosmosDouble;
let proxy: TcpProxy;
let db: TestDatabase;
/** The container as the app reaches it: through the proxy. */
let throughProxy: Container;
let direct: Container;
let env: Environment;
let disposeClient: () => void;

beforeAll(async () => {
  [double, db] = await Promise.all([startCosmosDouble({ protocol: 'http' }), createTestDatabase()]);
  direct = await createTestContainer(double.client);
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(double.endpoint).port) });
  const connectionString = `AccountEndpoint=http://127.0.0.1:${proxy.port}/;AccountKey=${double.key};`;
  const settings = {
    auth: { kind: 'connectionString' as const, connectionString },
    databaseName: direct.database.id,
    containerName: direct.id,
  };
  const client = createCosmosClient(settings, { endpointDiscovery: false });
  disposeClient = () => client.dispose();
  throughProxy = documentsContainer(client, settings);
  const config = loadConfig({ DATABASE_URL: db.url, USE_POSTGRESQL: 'true', DUAL_DATABASE_MODE: 'true' });
  useServices({ config, prisma: db.prisma, cosmos: throughProxy });
  env = baseEnv({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: connectionString,
    AZURE_COSMOSDB_DATABASE_NAME: direct.database.id,
    AZURE_COSMOSDB_CONTAINER_NAME: direct.id,
    AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
    USE_POSTGRESQL: 'true',
    DUAL_DATABASE_MODE: 'true',
  });
});
afterAll(async () => {
  await closeServices();
  disposeClient?.();
  await proxy?.close();
  await Promise.allSettled([db?.drop(), double?.stop()]);
});

const pendingEntries = () => db.prisma.pendingSync.findMany({ where: { target: mirrorTarget } });

interface PendingSummary {
  written: number;
  failed: number;
  remaining: number;
  oldestCreatedAt: string | null;
  oldestAgeSeconds: number | null;
  nextAttempt: string | null;
}

async function pendingSyncCli(args: string[]): Promise<{ code: number | null; summary: PendingSummary; stdout: string }> {
  // The command line runs its own services; the test's are put back afterwards.
  const result = await runCli(pendingSyncCommand, ['--json', ...args], env);
  const config = loadConfig({ DATABASE_URL: db.url, USE_POSTGRESQL: 'true', DUAL_DATABASE_MODE: 'true' });
  useServices({ config, prisma: db.prisma, cosmos: throughProxy });
  return { code: result.code, summary: JSON.parse(result.stdout) as PendingSummary, stdout: result.stdout };
}

describe('pending_sync backs off per retry of an entry, not per write that joins it', () => {
  it('twenty concurrent failing updates leave one entry one step away; --now empties the backlog once Cosmos is back', async () => {
    const pubkey = randomBytes(32).toString('hex');
    const accounts = RepositoryFactory.getAccountRepository();
    await accounts.create({ pubkey, username: 'someone', tier: 'premium', subscription: { tier: 'premium' }, created: 1_700_000_000_000 });
    expect(await pendingEntries()).toEqual([]);

    await proxy.refuse();
    const before = Date.now();
    await Promise.all(Array.from({ length: 20 }, () => accounts.updateLoginDate(pubkey)));
    const after = Date.now();

    // Every write is in PostgreSQL; Cosmos did not get one of them.
    const [entry, ...others] = await pendingEntries();
    expect(others).toEqual([]);
    expect(entry).toMatchObject({ documentType: 'account', pubkey, documentId: `account-${pubkey}`, attempts: 1, writes: 20 });
    // One backoff step (10 s) after the first failure: the nineteen writes that joined it did not push it out.
    expect(entry!.nextAttempt.getTime()).toBeGreaterThanOrEqual(nextAttemptAt(1, new Date(before)).getTime());
    expect(entry!.nextAttempt.getTime()).toBeLessThanOrEqual(nextAttemptAt(1, new Date(after)).getTime());

    const stats = await getMigrationStats({ prisma: db.prisma, cosmos: direct });
    expect(stats.pendingSync).toMatchObject({
      count: 1,
      oldestCreatedAt: entry!.createdAt.toISOString(),
      nextAttempt: entry!.nextAttempt.toISOString(),
    });
    expect(stats.pendingSync.oldestAgeSeconds).toBeGreaterThanOrEqual(0);

    // Not due yet: nothing is tried, and the command says what remains, exiting 1.
    const waiting = await pendingSyncCli([]);
    expect(waiting.code).toBe(1);
    expect(waiting.summary).toMatchObject({ written: 0, failed: 0, remaining: 1, oldestCreatedAt: entry!.createdAt.toISOString() });
    const human = await runCli(pendingSyncCommand, [], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(
      /Nothing was due\.\n1 entry remains in pending_sync: the oldest recorded \S+ \(\d+s ago\), the next due \S+\. Run with --now/,
    );

    // --now while Cosmos is still down: the retry fails, one more attempt, one step further out.
    const stillDown = await pendingSyncCli(['--now']);
    expect(stillDown.code).toBe(1);
    expect(stillDown.summary).toMatchObject({ written: 0, failed: 1, remaining: 1 });
    expect((await pendingEntries())[0]).toMatchObject({ attempts: 2, writes: 20 });

    await proxy.restore();
    const back = await pendingSyncCli(['--now']);
    expect(back.code).toBe(0);
    expect(back.summary).toMatchObject({ written: 1, failed: 0, remaining: 0, oldestCreatedAt: null, nextAttempt: null });
    expect(await pendingEntries()).toEqual([]);
    const row = await accounts.getByPubkey(pubkey);
    const { resource: copy } = await direct.item(`account-${pubkey}`, pubkey).read<Record<string, unknown>>();
    expect(copy && normalizeDocument(copy)).toEqual(row);
    expect((await getMigrationStats({ prisma: db.prisma, cosmos: direct })).pendingSync.count).toBe(0);
  }, 120_000);
});
