import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { syncCommand } from '../../cli/commands/sync.js';
import { type LocalCosmosServer, startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { InterruptedError, NoChangeFeedPositionsError } from '../../shared/core/errors.js';
import { listFeedRanges, rangeKey } from '../../shared/cosmos/feed-ranges.js';
import { advancePosition, loadPositions } from '../../shared/migration/change-feed-positions.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { runSync, type SyncPageEvent } from '../../shared/sync/sync-runner.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { createTestContainer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { baseEnv, runCli } from '../support/run-cli.js';
import { loadSource, readAll, sourceDocuments, unaccounted } from './fixtures/migration-source.js';
import { truncateAll } from './fixtures/migration-tables.js';

/**
 * The sync runner (`migrate:sync`): the change feed followed per feed range with the pull model, every
 * page through the Cosmos-triggered function's path, positions saved in PostgreSQL. On the Cosmos double
 * over plain HTTP, as `npm run local` serves it, so the command line runs in this process with its own
 * client; each test starts from a fresh container and empty tables.
 */

type Doc = Record<string, unknown>;

let cosmos: LocalCosmosServer;
let db: TestDatabase;
let container: Container;
let source: Doc[];
let ctx: AppContext;

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startLocalCosmosServer(), createTestDatabase()]);
});
afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
});
beforeEach(async () => {
  await truncateAll(db.pool);
  container = await createTestContainer(cosmos.client);
  source = await loadSource(container, sourceDocuments(20, 61));
  ctx = { prisma: db.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true' }) };
});

function commandEnv(extra: Record<string, string> = {}) {
  return baseEnv({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.settings.auth.kind === 'connectionString' ? cosmos.settings.auth.connectionString : '',
    AZURE_COSMOSDB_DATABASE_NAME: container.database.id,
    AZURE_COSMOSDB_CONTAINER_NAME: container.id,
    AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
    ...extra,
  });
}

/** The document as a client writes it: Cosmos sets the system properties itself. */
function stripSystem(document: Doc): Doc {
  return Object.fromEntries(Object.entries(document).filter(([key]) => !key.startsWith('_')));
}

const ofType = (type: string) => source.filter((document) => document.type === type && !String(document.id).includes('-broken-'));

async function rowCount(table: string, id: unknown): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE id = $1`, [id]);
  return rows[0]?.n ?? 0;
}

describe('migrate:sync', () => {
  it('has nothing to start from before a full load, and says what to do', async () => {
    await expect(runSync(ctx, { mode: 'LatestVersion', once: true })).rejects.toBeInstanceOf(NoChangeFeedPositionsError);
    const result = await runCli(syncCommand, ['--once'], commandEnv());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no change-feed position to continue from: no full load has completed yet.*npm run migrate:full/);
  });

  it('--once applies what changed while the full load ran and after it, from where the load ended', async () => {
    const [log, account, payment] = [ofType('notification-log')[0], ofType('account')[0], ofType('payment')[0]] as [Doc, Doc, Doc];
    const writes: Array<Promise<unknown>> = [];
    let pages = 0;
    await migrateAll(ctx, {
      batchSize: 30,
      concurrency: 1,
      onProgress: () => {
        pages += 1;
        if (pages === 3) {
          writes.push(
            (async () => {
              for (let index = 0; index < 8; index += 1) {
                await container.items.create({
                  ...stripSystem(log),
                  id: `during-load-${index}`,
                  pubkey: `${'d'.repeat(60)}${String(index).padStart(4, '0')}`,
                });
              }
              const modified = Number(account.modified ?? 0) + 1000;
              await container
                .item(String(account.id), String(account.pubkey))
                .replace({ ...stripSystem(account), tier: 'premium', modified });
              // Updated twice while the load runs: only the second version may end in PostgreSQL.
              for (const [step, invoice] of ['lnbc-first-update', 'lnbc-second-update'].entries()) {
                await container.items.upsert({
                  ...stripSystem(payment),
                  lnInvoice: invoice,
                  modified: Number(payment.modified ?? 0) + 1000 * (step + 1),
                });
              }
            })(),
          );
        }
      },
    });
    await Promise.all(writes);
    const loadEnded = await loadPositions(db.prisma);
    await container.items.create({ ...stripSystem(log), id: 'after-load', pubkey: 'c'.repeat(64) });

    const result = await runCli(syncCommand, ['--once', '--json', '--batch-size', '20'], commandEnv());
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { state: string; ranges: number; changes: number; written: number };
    expect(summary).toMatchObject({ state: 'caught-up', ranges: 4 });
    expect(summary.written).toBeGreaterThan(0);
    expect(await unaccounted(db.pool, await readAll(container))).toEqual({ missing: [], extra: 0 });
    const report = await verifyAll(ctx);
    expect({ different: report.different.count, missingInCosmos: report.missingInCosmos.count }).toEqual({
      different: 0,
      missingInCosmos: 0,
    });
    const { rows } = await db.pool.query<{ tier: string }>('SELECT tier FROM accounts WHERE id = $1', [account.id]);
    expect(rows).toEqual([{ tier: 'premium' }]);
    const invoices = await db.pool.query<{ lnInvoice: string }>('SELECT "lnInvoice" FROM payments WHERE id = $1', [payment.id]);
    expect(invoices.rows).toEqual([{ lnInvoice: 'lnbc-second-update' }]);
    // Every range's position moved on from where the load left it.
    const moved = await loadPositions(db.prisma);
    expect(moved.map((position) => position.rangeKey)).toEqual(loadEnded.map((position) => position.rangeKey));
    expect(moved.filter((position, index) => position.continuation !== loadEnded[index]?.continuation).length).toBeGreaterThan(0);
    // Caught up: once more finds nothing.
    const again = await runCli(syncCommand, ['--once', '--json'], commandEnv());
    expect(JSON.parse(again.stdout)).toMatchObject({ state: 'caught-up', changes: 0 });
  });

  it('--once in AllVersionsAndDeletes mode carries deletes to PostgreSQL', async () => {
    await migrateAll(ctx, { batchSize: 50 });
    const [gone, kept] = ofType('payment') as [Doc, Doc];
    expect(await rowCount('payments', gone.id)).toBe(1);
    await container.item(String(gone.id), String(gone.pubkey)).delete();
    const modified = Number(kept.modified ?? 0) + 1000;
    await container.items.upsert({ ...stripSystem(kept), lnInvoice: 'lnbc-after-load', modified });

    const result = await runCli(syncCommand, ['--once', '--json'], commandEnv({ COSMOSDB_CHANGE_FEED_MODE: 'AllVersionsAndDeletes' }));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'caught-up', deleted: 1 });
    expect(await rowCount('payments', gone.id)).toBe(0);
    const { rows } = await db.pool.query<{ lnInvoice: string }>('SELECT "lnInvoice" FROM payments WHERE id = $1', [kept.id]);
    expect(rows).toEqual([{ lnInvoice: 'lnbc-after-load' }]);
    // A range moved on by that read records its mode (the others still stand where the load left them).
    expect((await loadPositions(db.prisma)).some((position) => position.mode === 'AllVersionsAndDeletes')).toBe(true);
  });

  it('followed continuously in AllVersionsAndDeletes mode, applies a delete as it happens; stopped, it keeps every position', async () => {
    await migrateAll(ctx, { batchSize: 50 });
    const [gone] = ofType('backup-job') as [Doc];
    const controller = new AbortController();
    let deletedIt = false;
    const seen: SyncPageEvent[] = [];
    const running = runSync(ctx, {
      mode: 'AllVersionsAndDeletes',
      pollIntervalMs: 10,
      signal: controller.signal,
      onPage: (event) => {
        seen.push(event);
        // Every range has answered 304 once: now delete, and stop as soon as the delete is applied.
        if (!deletedIt && new Set(seen.filter((page) => page.caughtUp).map((page) => page.range)).size === 4) {
          deletedIt = true;
          void container.item(String(gone.id), String(gone.pubkey)).delete();
        }
        if (event.outcome?.kind === 'applied' && event.outcome.deleted > 0) controller.abort();
      },
    });
    await expect(running).rejects.toBeInstanceOf(InterruptedError);
    expect(await rowCount('backup_jobs', gone.id)).toBe(0);
    const positions = await loadPositions(db.prisma);
    expect(positions).toHaveLength(4);
    // Started again from those positions, it finds nothing left to do.
    const again = await runSync(ctx, { mode: 'AllVersionsAndDeletes', once: true });
    expect(again).toMatchObject({ ranges: 4, changes: 0 });
  });

  // Ctrl-C in the demo landed while the runner was still loading its positions: the abort event had fired before
  // the runner listened for it, and it followed the change feed for ever.
  it('stopped while it is still starting, it stops instead of following for ever', async () => {
    await migrateAll(ctx, { batchSize: 50 });
    const controller = new AbortController();
    const running = runSync(ctx, { mode: 'LatestVersion', pollIntervalMs: 10, signal: controller.signal });
    controller.abort();
    const outcome = await Promise.race([
      running.then(
        () => 'returned',
        (error: unknown) => (error instanceof InterruptedError ? 'interrupted' : error),
      ),
      new Promise((resolve) => setTimeout(() => resolve('still following after 10 s'), 10_000)),
    ]);
    expect(outcome).toBe('interrupted');
  });

  it('--from now starts from this moment, replacing the positions; AllVersionsAndDeletes cannot start from the beginning', async () => {
    const refused = await runCli(syncCommand, ['--from', 'beginning', '--mode', 'AllVersionsAndDeletes'], commandEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--from: AllVersionsAndDeletes \(--mode\) cannot start from the beginning/);
    const refusedTime = await runCli(
      syncCommand,
      ['--from', '2026-11-28T09:30:00Z'],
      commandEnv({ COSMOSDB_CHANGE_FEED_MODE: 'AllVersionsAndDeletes' }),
    );
    expect(refusedTime.code).toBe(2);
    expect(refusedTime.stderr).toMatch(/--from: AllVersionsAndDeletes \(COSMOSDB_CHANGE_FEED_MODE\) cannot start from a point in time/);
    const badTime = await runCli(syncCommand, ['--from', 'yesterday'], commandEnv());
    expect(badTime.code).toBe(2);

    const first = await runSync(ctx, { mode: 'LatestVersion', start: { from: 'now' }, once: true });
    expect(first).toMatchObject({ ranges: 4, changes: 0 });
    expect(await loadPositions(db.prisma)).toHaveLength(4);
    const [log] = ofType('notification-log') as [Doc];
    await container.items.create({ ...stripSystem(log), id: 'after-now', pubkey: 'b'.repeat(64) });
    const next = await runSync(ctx, { mode: 'LatestVersion', once: true });
    expect(next).toMatchObject({ changes: 1, written: 1 });
    // Only what came after: the documents loaded before the start were never read.
    expect(await rowCount('notification_logs', 'after-now')).toBe(1);
    expect(await rowCount('notification_logs', log.id)).toBe(0);
  });

  it('holds its position through a page PostgreSQL refuses, and applies it once PostgreSQL is back', async () => {
    await migrateAll(ctx, { batchSize: 50 });
    const [payment] = ofType('payment') as [Doc];
    await container.items.upsert({ ...stripSystem(payment), lnInvoice: 'lnbc-while-down', modified: Number(payment.modified ?? 0) + 1000 });
    await db.pool.query('ALTER TABLE payments RENAME TO payments_away');
    const retries: number[] = [];
    try {
      const summary = await runSync(ctx, {
        mode: 'LatestVersion',
        once: true,
        onRetry: ({ attempt }) => {
          retries.push(attempt);
          if (attempt === 2) void db.pool.query('ALTER TABLE payments_away RENAME TO payments');
        },
      });
      expect(summary).toMatchObject({ changes: 1, written: 1 });
    } finally {
      await db.pool.query('ALTER TABLE IF EXISTS payments_away RENAME TO payments');
    }
    expect(retries.slice(0, 2)).toEqual([1, 2]);
    const { rows } = await db.pool.query<{ lnInvoice: string }>('SELECT "lnInvoice" FROM payments WHERE id = $1', [payment.id]);
    expect(rows).toEqual([{ lnInvoice: 'lnbc-while-down' }]);
  });
});

describe('change-feed positions', () => {
  it('move compare-and-set: a writer that started from an older position never moves one back', async () => {
    const [range] = (await listFeedRanges(container)).map(rangeKey) as [string];
    expect(await advancePosition(db.prisma, range, null, { continuation: 'c1', mode: 'LatestVersion' })).toBe(true);
    expect(await advancePosition(db.prisma, range, 'c1', { continuation: 'c2', mode: 'LatestVersion' })).toBe(true);
    // A slower writer that also started at c1 finds c2 there, and leaves it.
    expect(await advancePosition(db.prisma, range, 'c1', { continuation: 'c1b', mode: 'LatestVersion' })).toBe(false);
    expect(await advancePosition(db.prisma, range, null, { continuation: 'c0', mode: 'LatestVersion' })).toBe(false);
    expect(await loadPositions(db.prisma)).toEqual([{ rangeKey: range, continuation: 'c2', mode: 'LatestVersion' }]);
  });
});
