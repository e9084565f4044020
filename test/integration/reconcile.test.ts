/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- ChangeFeedStartFrom.Now() returns a class
   that does not extend ChangeFeedStartFrom, the type the iterator options declare: the SDK's documented usage. */
import type { Container } from '@azure/cosmos';
import { ChangeFeedStartFrom, StatusCodes } from '@azure/cosmos';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { migrateCommands } from '../../cli/commands/migrate-commands.js';
import type { Command } from '../../cli/core/command.js';
import { type LocalCosmosServer, startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { InterruptedError, MigrationModeDisabledError, ReconcileRefusedError } from '../../shared/core/errors.js';
import { documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { loadPassRanges } from '../../shared/migration/pass-ranges.js';
import { lastReconcilePass } from '../../shared/migration/reconcile-passes.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { createTestContainer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { baseEnv, runCli } from '../support/run-cli.js';
import { loadSource } from './fixtures/migration-source.js';
import { snapshotTables, truncateAll } from './fixtures/migration-tables.js';

/**
 * Reconciliation (deletes in LatestVersion mode): documents deleted in Cosmos after the full load are found by
 * comparing ids, confirmed gone by a point read, and removed from PostgreSQL only with `apply`, each copied to
 * `reconciled_deletes`; documents created again during the pass stay. On the Cosmos double with 4 physical
 * partitions (as `npm run local` serves it, plain HTTP, so the command line runs in this process with its own
 * client), through the real SDK, and a PostgreSQL database of this file's own.
 */

type Doc = Record<string, unknown>;

let cosmos: LocalCosmosServer;
let db: TestDatabase;
let container: Container;
let ctx: AppContext;
/** Every document as Cosmos held it when the full load ran (system properties included). */
let source: Doc[];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startLocalCosmosServer(), createTestDatabase()]);
});
afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
});
beforeEach(async () => {
  await truncateAll(db.pool);
  await db.pool.query('TRUNCATE "reconcile_passes", "reconciled_deletes"');
  container = await createTestContainer(cosmos.client);
  // 230 generated users: about 2,000 documents of all seven types (and the `user-settings` alias).
  source = await loadSource(container, [...generateDataset({ users: 230, seed: 12 })]);
  ctx = { prisma: db.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true' }) };
  const load = await migrateAll(ctx, { batchSize: 500 });
  expect(load.written).toBe(source.length);
});

/** `count` documents of the source, spread over every type, in a fixed order. */
function pick(count: number): Doc[] {
  const ordered = [...source].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const every = Math.floor(ordered.length / count);
  return ordered.filter((_, index) => index % every === 0).slice(0, count);
}

async function deleteInCosmos(documents: readonly Doc[]): Promise<void> {
  for (let start = 0; start < documents.length; start += 50) {
    await Promise.all(
      documents.slice(start, start + 50).map((document) => container.item(String(document.id), String(document.pubkey)).delete()),
    );
  }
}

function tableOf(document: Doc): string {
  const type = documentTypeOf(document.type);
  if (!type) throw new Error(`no type for ${String(document.id)}`);
  return documentTypes[type].table;
}

async function rowExists(document: Doc): Promise<boolean> {
  const { rows } = await db.pool.query(`SELECT 1 FROM "${tableOf(document)}" WHERE id = $1 AND pubkey = $2`, [
    document.id,
    document.pubkey,
  ]);
  return rows.length === 1;
}

async function audited(): Promise<Array<{ passId: string; table: string; id: string; pubkey: string; row: Doc }>> {
  const { rows } = await db.pool.query('SELECT "passId", "table", id, pubkey, "row" FROM reconciled_deletes');
  return rows;
}

describe('a reconcile pass with apply', () => {
  test('1,000 documents deleted in Cosmos are gone from PostgreSQL, each copied to reconciled_deletes and tombstoned', async () => {
    const deleted = pick(1000);
    expect(deleted).toHaveLength(1000);
    await deleteInCosmos(deleted);

    const outcome = await reconcile(ctx, { apply: true, chunkSize: 300 });

    expect(outcome).toMatchObject({ dryRun: false, scanned: source.length, candidates: 1000, confirmed: 1000, removed: 1000 });
    expect(outcome).toMatchObject({ keptRecreated: 0, keptChanged: 0 });
    expect(outcome.requestUnits).toBeGreaterThan(0);
    const remaining = await Promise.all(deleted.map(rowExists));
    expect(remaining.filter(Boolean)).toHaveLength(0);
    const kept = source.filter((document) => !deleted.includes(document));
    expect((await Promise.all(kept.map(rowExists))).every(Boolean)).toBe(true);

    const entries = await audited();
    expect(entries).toHaveLength(1000);
    const byKey = new Map(entries.map((entry) => [JSON.stringify([entry.pubkey, entry.id]), entry]));
    for (const document of deleted) {
      const entry = byKey.get(JSON.stringify([document.pubkey, document.id]));
      expect(entry, String(document.id)).toBeDefined();
      expect(entry?.passId).toBe(outcome.passId);
      expect(entry?.table).toBe(tableOf(document));
      // The row as it was: its version columns and its content, enough to insert it back.
      expect(entry?.row).toMatchObject({ id: document.id, pubkey: document.pubkey, cosmosTs: document._ts });
    }
    const { rows: tombstones } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tombstones');
    expect(tombstones[0]?.n).toBe(1000);

    // A page read before the deletes, arriving late, cannot bring a removed row back.
    const late = await applyDocuments(db.prisma, deleted.slice(0, 50), { source: 'migration' });
    expect(late.written).toBe(0);
    expect((await Promise.all(deleted.slice(0, 50).map(rowExists))).some(Boolean)).toBe(false);

    // A mistaken removal is undone from the audit copy, as docs/deploy.md says: the row comes back exactly.
    const undone = deleted[0] as Doc;
    const table = tableOf(undone);
    expect(await rowExists(undone)).toBe(false);
    const entry = byKey.get(JSON.stringify([undone.pubkey, undone.id]));
    await db.pool.query(`INSERT INTO "${table}" SELECT * FROM jsonb_populate_record(NULL::"${table}", $1::jsonb)`, [
      JSON.stringify(entry?.row),
    ]);
    const restored = await db.pool.query<{ row: Doc }>(`SELECT to_jsonb(t) AS row FROM "${table}" t WHERE id = $1`, [undone.id]);
    expect(restored.rows[0]?.row).toEqual(entry?.row);

    expect(await lastReconcilePass(db.prisma)).toMatchObject({ id: outcome.passId, state: 'completed', dryRun: false, removed: 1000 });
    // A second pass finds only the restored row, whose document is still gone.
    expect(await reconcile(ctx, { apply: true })).toMatchObject({ scanned: source.length - 999, candidates: 1, removed: 1 });
  });

  test('documents deleted and created again during the pass are kept at their new version; a row written since is kept', async () => {
    const chosen = pick(110);
    const recreated = chosen.filter((_, index) => index % 11 !== 10);
    const rewritten = chosen.filter((_, index) => index % 11 === 10);
    expect([recreated.length, rewritten.length]).toEqual([100, 10]);
    await deleteInCosmos([...recreated, ...rewritten]);
    const newTitle = 'created again';

    const outcome = await reconcile(ctx, {
      apply: true,
      chunkSize: 250,
      // One range at a time: each call below reads back, from the feed, exactly what it created.
      concurrency: 1,
      // Between the range's read and the point reads: created again in Cosmos, and the sync writes the new version.
      beforeConfirm: async (candidates) => {
        const keys = new Set(candidates.map((row) => JSON.stringify([row.pubkey, row.id])));
        const again = recreated.filter((document) => keys.has(JSON.stringify([document.pubkey, document.id])));
        // What the sync gets is the change feed's items, with their positions (`_lsn`): a created document's
        // own `_ts` may fall in the second its deleted predecessor was loaded in, and only the position orders them.
        const feed = container.items.getChangeFeedIterator<Doc>({ changeFeedStartFrom: ChangeFeedStartFrom.Now() });
        expect((await feed.readNext()).statusCode).toBe(StatusCodes.NotModified);
        for (const document of again) {
          const fresh = Object.fromEntries(Object.entries(document).filter(([key]) => !key.startsWith('_')));
          await container.items.create<Doc>({ ...fresh, marker: newTitle });
        }
        // The container's feed answers range by range: a 304 from one range says nothing of the others, so read
        // until every created document came back (a bounded number of reads).
        const stored: Doc[] = [];
        for (let reads = 0; stored.length < again.length && reads < 40; reads += 1) {
          const page = await feed.readNext();
          if (page.statusCode !== StatusCodes.NotModified) stored.push(...page.result);
        }
        expect(stored).toHaveLength(again.length);
        if (stored.length > 0) await applyDocuments(db.prisma, stored, { source: 'sync' });
        // Created again and deleted again, the sync having written the version in between: PostgreSQL moved on.
        const moved = rewritten.filter((document) => keys.has(JSON.stringify([document.pubkey, document.id])));
        if (moved.length > 0) {
          await applyDocuments(
            db.prisma,
            moved.map((document) => ({ ...document, _ts: Number(document._ts) + 5, marker: newTitle })),
            { source: 'sync' },
          );
        }
      },
    });

    expect(outcome).toMatchObject({ candidates: 110, keptRecreated: 100, confirmed: 10, keptChanged: 10, removed: 0 });
    expect(await audited()).toEqual([]);
    for (const document of [...recreated, ...rewritten]) {
      const { rows } = await db.pool.query<{ extra: Doc }>(`SELECT extra FROM "${tableOf(document)}" WHERE id = $1 AND pubkey = $2`, [
        document.id,
        document.pubkey,
      ]);
      expect(rows[0]?.extra.marker, String(document.id)).toBe(newTitle);
    }
  });

  test('a document quarantined as a competitor for a removed row takes it (no stranded document)', async () => {
    const pubkey = 'c'.repeat(64);
    const account = (id: string, modified: number): Doc => ({
      id,
      type: 'account',
      pubkey,
      tier: 'premium',
      subscription: { tier: 'premium' },
      created: 1_700_000_000_000,
      modified,
    });
    const stored: Doc[] = [];
    for (const document of [account(`account-${pubkey}`, 1), account(`legacy-${pubkey}`, 2)]) {
      stored.push((await container.items.create<Doc>(document)).resource as Doc);
    }
    await applyDocuments(db.prisma, stored, { source: 'sync' });
    const holder = await db.pool.query('SELECT id FROM accounts WHERE pubkey = $1', [pubkey]);
    expect(holder.rows).toEqual([{ id: `legacy-${pubkey}` }]);
    await container.item(`legacy-${pubkey}`, pubkey).delete();

    const outcome = await reconcile(ctx, { apply: true });

    expect(outcome).toMatchObject({ confirmed: 1, removed: 1, reconsidered: 1 });
    const after = await db.pool.query('SELECT id FROM accounts WHERE pubkey = $1', [pubkey]);
    expect(after.rows).toEqual([{ id: `account-${pubkey}` }]);
    const waiting = await db.pool.query('SELECT 1 FROM quarantine WHERE pubkey = $1', [pubkey]);
    expect(waiting.rows).toEqual([]);
  });
});

describe('a dry run', () => {
  test('reports what it would remove and changes nothing', async () => {
    const deleted = pick(120);
    await deleteInCosmos(deleted);
    const before = await snapshotTables(db.pool);

    const outcome = await reconcile(ctx, { chunkSize: 500 });

    expect(outcome).toMatchObject({ dryRun: true, scanned: source.length, candidates: 120, confirmed: 120, removed: 0 });
    expect(await snapshotTables(db.pool)).toEqual(before);
    expect(await audited()).toEqual([]);
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tombstones');
    expect(rows[0]?.n).toBe(0);
    expect(await lastReconcilePass(db.prisma)).toMatchObject({ id: outcome.passId, state: 'completed', dryRun: true, confirmed: 120 });
  });

  test('stopped (Ctrl-C) after a page: recorded as interrupted with the counts so far', async () => {
    await deleteInCosmos(pick(40));
    const controller = new AbortController();
    const pass = reconcile(ctx, {
      chunkSize: 200,
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('stopped by Ctrl-C')),
    });
    await expect(pass).rejects.toBeInstanceOf(InterruptedError);
    // Each of the 4 ranges read at once stops after the page it had in hand: its first page of documents.
    const stopped = await lastReconcilePass(db.prisma);
    expect(stopped).toMatchObject({ state: 'interrupted', dryRun: true, scanned: 0 });
    expect(stopped?.documents).toBeGreaterThanOrEqual(200);
    expect(stopped?.documents).toBeLessThanOrEqual(4 * 200);
    const ranges = await loadPassRanges(db.prisma, stopped?.id ?? '');
    expect(ranges).toHaveLength(4);
    expect(ranges.every((range) => range.phase === 'reading')).toBe(true);
    expect(ranges.reduce((sum, range) => sum + range.documents, 0)).toBe(stopped?.documents);
  });

  test('apply needs MIGRATION_MODE, and is refused while PostgreSQL is primary', async () => {
    const off = { ...ctx, config: loadConfig({}) };
    await expect(reconcile(off, { apply: true })).rejects.toBeInstanceOf(MigrationModeDisabledError);
    const primary = { ...ctx, config: loadConfig({ MIGRATION_MODE: 'true', USE_POSTGRESQL: 'true' }) };
    await expect(reconcile(primary, { apply: true })).rejects.toBeInstanceOf(ReconcileRefusedError);
    expect(await reconcile(primary, {})).toMatchObject({ dryRun: true, candidates: 0 });
  });
});

describe('npm run migrate:reconcile', () => {
  const command = migrateCommands.get('reconcile') as Command;
  const env = (extra: Record<string, string> = {}) =>
    baseEnv({
      DATABASE_URL: db.url,
      AZURE_COSMOSDB_CONNECTION_STRING: cosmos.settings.auth.kind === 'connectionString' ? cosmos.settings.auth.connectionString : '',
      AZURE_COSMOSDB_DATABASE_NAME: container.database.id,
      AZURE_COSMOSDB_CONTAINER_NAME: container.id,
      AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
      ...extra,
    });

  test('reports by default, removes with --apply, refuses --apply without MIGRATION_MODE', async () => {
    const deleted = pick(30);
    await deleteInCosmos(deleted);

    const report = await runCli(command, [], env());
    expect(report.code).toBe(0);
    expect(report.stdout).toContain('=== Reconcile (dry run) completed ===');
    expect(report.stdout).toMatch(/Confirmed gone: +30\n/);
    expect(report.stdout).toMatch(/Removed: +0\n/);
    expect(report.stdout).toContain('First rows that would be removed:');
    expect(report.stdout).toContain('To remove the 30 row(s): npm run migrate:reconcile -- --apply');
    expect((await Promise.all(deleted.map(rowExists))).every(Boolean)).toBe(true);

    const refused = await runCli(command, ['--apply'], env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('MIGRATION_MODE=true');
    expect((await Promise.all(deleted.map(rowExists))).every(Boolean)).toBe(true);

    const applied = await runCli(command, ['--apply', '--json', '--batch-size', '200'], env({ MIGRATION_MODE: 'true' }));
    expect(applied.code).toBe(0);
    const result = JSON.parse(applied.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ state: 'completed', dryRun: false, scanned: source.length, candidates: 30, confirmed: 30, removed: 30 });
    expect(result.sample).toHaveLength(20);
    expect((await Promise.all(deleted.map(rowExists))).some(Boolean)).toBe(false);
    expect(await audited()).toHaveLength(30);

    const stats = await runCli(migrateCommands.get('stats') as Command, ['--json'], env());
    expect(JSON.parse(stats.stdout)).toMatchObject({
      lastReconcile: { id: result.passId, state: 'completed', dryRun: false, candidates: 30, confirmed: 30, removed: 30 },
    });
  });

  test('--resume continues the last unfinished pass of its kind from where it stopped, counting each row once', async () => {
    const deleted = pick(50);
    await deleteInCosmos(deleted);
    const none = await runCli(command, ['--apply', '--resume'], env({ MIGRATION_MODE: 'true' }));
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no interrupted or failed');

    const controller = new AbortController();
    const stopped = reconcile(ctx, {
      apply: true,
      chunkSize: 200,
      // One range at a time, so the pass stops well before its end, whatever the timing.
      concurrency: 1,
      signal: controller.signal,
      onProgress: ({ counts }) => {
        if (counts.scanned >= 600) controller.abort(new Error('stopped by Ctrl-C'));
      },
    });
    await expect(stopped).rejects.toBeInstanceOf(InterruptedError);
    const interrupted = await lastReconcilePass(db.prisma);
    expect(interrupted).toMatchObject({ state: 'interrupted', dryRun: false });
    // It stopped after the page that took it to 600 rows compared.
    expect(interrupted?.documents).toBeLessThanOrEqual(source.length - deleted.length);
    expect(interrupted?.scanned).toBeGreaterThanOrEqual(600);
    expect(interrupted?.scanned).toBeLessThan(source.length);
    expect(interrupted?.removed).toBeGreaterThan(0);
    expect(interrupted?.removed).toBeLessThan(50);

    // A dry run's --resume looks for an unfinished dry run only: there is none.
    expect((await runCli(command, ['--resume'], env({ MIGRATION_MODE: 'true' }))).code).toBe(1);
    const resumed = await runCli(command, ['--apply', '--resume', '--json', '--batch-size', '200'], env({ MIGRATION_MODE: 'true' }));
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      state: 'completed',
      passId: interrupted?.id,
      documents: source.length - deleted.length,
      scanned: source.length,
      candidates: 50,
      confirmed: 50,
      removed: 50,
    });
    expect((await Promise.all(deleted.map(rowExists))).some(Boolean)).toBe(false);
    const copies = await audited();
    expect(copies).toHaveLength(50);
    expect(new Set(copies.map((copy) => copy.passId))).toEqual(new Set([interrupted?.id]));
  });
});
