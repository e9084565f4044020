import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { runEndRecorded } from '../../shared/migration/run-migration.js';
import { getRunStatus } from '../../shared/migration/run-status.js';
import { abandonedAfterMs } from '../../shared/migration/runs.js';
import { createPrismaClient, defaultPostgresTimeouts, type PrismaClient } from '../../shared/postgres/prisma-client.js';
import { getMigrationStats } from '../../shared/stats/index.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { loadSource, sourceDocuments, unaccounted } from './fixtures/migration-source.js';

/**
 * Issue 9, "Outages end cleanly": a run that cannot record its own failure (PostgreSQL gone for good while it
 * runs) must not leave a run that looks alive for ever. The run's PostgreSQL is reached through a TCP proxy
 * that then refuses everything, with no retry window, so the run fails and so does recording it. The error
 * says so, the row still says `running`, and once its heartbeat is older than `abandonedAfterMs` (aged here
 * by moving the recorded heartbeat back, not by waiting) stats and the run status call it abandoned; `--resume`
 * then finishes it, with every document accounted for.
 */

const migrationMode = loadConfig({ MIGRATION_MODE: 'true' });

let cosmos: CosmosTestServer;
let container: Container;
let db: TestDatabase;
let proxy: TcpProxy;
let throughProxy: PrismaClient;
let source: Array<Record<string, unknown>>;

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startCosmosServer(), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  source = await loadSource(container, sourceDocuments(30, 9));
  const target = new URL(db.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  throughProxy = createPrismaClient(proxy.urlThrough(db.url), 2, undefined, { ...defaultPostgresTimeouts, retryWindowMs: 0 });
});
afterAll(async () => {
  await throughProxy?.$disconnect().catch(() => undefined);
  await proxy?.close();
  await Promise.all([db?.drop(), cosmos?.stop()]);
});

test('a run that cannot record its failure is seen as abandoned once its heartbeat is old, and --resume finishes it', async () => {
  const failing: AppContext = { prisma: throughProxy, cosmos: container, config: migrationMode };
  let pages = 0;
  const error = await migrateAll(failing, {
    batchSize: 20,
    concurrency: 1,
    onProgress: () => {
      pages += 1;
      // After the first committed page, PostgreSQL goes away for this process and does not come back.
      if (pages === 1) void proxy.refuse();
    },
  }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(Error);
  expect(pages).toBeGreaterThanOrEqual(1);
  expect(runEndRecorded(error)).toBe(false);

  // Another process, with PostgreSQL reachable: the run still says running, and its heartbeat is fresh.
  const direct: AppContext = { prisma: db.prisma, cosmos: container, config: migrationMode };
  const fresh = await getMigrationStats(direct);
  expect(fresh.lastRun).toMatchObject({ kind: 'full', state: 'running', abandoned: false });
  const runId = fresh.lastRun?.id as string;

  await db.pool.query(`UPDATE migration_runs SET "heartbeatAt" = now() - make_interval(secs => $2) WHERE id = $1`, [
    runId,
    abandonedAfterMs / 1000 + 60,
  ]);
  expect((await getMigrationStats(direct)).lastRun).toMatchObject({ id: runId, state: 'running', abandoned: true });
  expect(await getRunStatus(db.prisma, runId)).toMatchObject({ state: 'running', abandoned: true });

  const resumed = await migrateAll(direct, { batchSize: 20, resume: 'required' });
  expect(resumed).toMatchObject({ runId, done: true });
  expect((await getMigrationStats(direct)).lastRun).toMatchObject({ id: runId, state: 'completed', abandoned: false });
  expect(await unaccounted(db.pool, source)).toEqual({ missing: [], extra: 0 });
});

test('a run whose failure could be recorded says so', async () => {
  await proxy.restore();
  const ctx: AppContext = { prisma: db.prisma, cosmos: container, config: migrationMode };
  const error = await migrateAll(ctx, {
    batchSize: 20,
    onProgress: () => {
      throw new Error('a progress callback that fails');
    },
  }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(Error);
  expect(runEndRecorded(error)).toBe(true);
  expect((await getMigrationStats(ctx)).lastRun).toMatchObject({ state: 'failed', abandoned: false });
});
