import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataMigrationUtility } from '../../shared/api/data-migration-utility.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { MigrationModeDisabledError, NoChangeFeedPositionsError } from '../../shared/core/errors.js';
import { listFeedRanges, rangeKey } from '../../shared/cosmos/feed-ranges.js';
import { type DocumentType, documentTypeOf } from '../../shared/domain/document-types.js';
import { loadPositions } from '../../shared/migration/change-feed-positions.js';
import { migrateIncremental } from '../../shared/migration/incremental.js';
import { migrateAll, migrateType } from '../../shared/migration/migrate-type.js';
import { migrateUser } from '../../shared/migration/migrate-user.js';
import type { MigrationProgress } from '../../shared/migration/run-migration.js';
import { closeServices, useServices } from '../../shared/runtime/services.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { loadSource, readAll, sourceDocuments, unaccounted } from './fixtures/migration-source.js';
import { countQuarantine, countRows, snapshotTables, truncateAll } from './fixtures/migration-tables.js';

type Doc = Record<string, unknown>;

const migrationMode = loadConfig({ MIGRATION_MODE: 'true' });
const readOnlyMode = loadConfig({});

let cosmos: CosmosTestServer;
let container: Container;
let db: TestDatabase;
let source: Doc[];
let ctx: AppContext;
/** The container's feed ranges (4 physical partitions on the double), as run parts. */
let rangeKeys: string[];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startCosmosServer(), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  // About 1,100 documents: every type spans two pages or more at a batch of 80, and there are 40 accounts to race.
  source = await loadSource(container, sourceDocuments(120, 31));
  ctx = { prisma: db.prisma, cosmos: container, config: migrationMode };
  rangeKeys = (await listFeedRanges(container)).map(rangeKey);
});
afterAll(async () => {
  await closeServices();
  await Promise.all([db?.drop(), cosmos?.stop()]);
});
beforeEach(() => truncateAll(db.pool));

function typeCount(type: DocumentType): number {
  return source.filter((document) => documentTypeOf(document.type) === type).length;
}

async function runRows(): Promise<Array<Record<string, unknown>>> {
  const { rows } = await db.pool.query(
    `SELECT kind, state, scope, processed::int, written::int, unchanged::int, quarantined::int, failed::int, skipped::int,
            "requestUnits", throttled::int FROM migration_runs ORDER BY "startedAt"`,
  );
  return rows;
}

describe('full migration from the change feed', () => {
  it('accounts for every source document: in its table or in the quarantine, nothing else', async () => {
    const seen: MigrationProgress[] = [];
    const progress = await migrateAll(ctx, { batchSize: 80, onProgress: (p) => seen.push(p) });

    expect(await unaccounted(db.pool, source)).toEqual({ missing: [], extra: 0 });
    const rows = Object.values(await countRows(db.pool)).reduce((a, b) => a + b);
    expect(rows + (await countQuarantine(db.pool))).toBe(source.length);
    expect(await countQuarantine(db.pool)).toBeGreaterThan(0);

    expect(progress).toMatchObject({ done: true, processed: source.length, failed: 0 });
    expect(progress.written + progress.unchanged + progress.quarantined + progress.skipped).toBe(source.length);
    expect(seen.at(-1)).toEqual(progress);
    // One part per feed range (physical partition), each read to its end; their counts add up to the source.
    expect(rangeKeys).toHaveLength(4);
    expect(new Set(seen.map((p) => p.part))).toEqual(new Set(rangeKeys));
    expect(Object.values(progress.processedByPart).reduce((a, b) => (a ?? 0) + (b ?? 0), 0)).toBe(source.length);
    const [run] = await runRows();
    expect(run).toMatchObject({ kind: 'full', state: 'completed', processed: source.length, written: progress.written, throttled: 0 });
    expect(run?.requestUnits).toBeGreaterThan(0);
    expect(run?.requestUnits).toBeCloseTo(progress.requestUnits, 6);
    // Where each range ended is where reading the feed goes on from.
    expect((await loadPositions(db.prisma)).map((position) => position.rangeKey)).toEqual(rangeKeys);
  });

  it('changes nothing when run again', async () => {
    await migrateAll(ctx, { batchSize: 110 });
    const before = await snapshotTables(db.pool);
    const again = await migrateAll(ctx, { batchSize: 40 });
    expect(again).toMatchObject({ written: 0, processed: source.length, unchanged: source.length - again.quarantined });
    expect(await snapshotTables(db.pool)).toEqual(before);
  });

  it('ends at the newest versions when the change-feed sync writes newer ones during the migration', async () => {
    // Accounts whose pubkey has no other account document: the table holds one row per pubkey.
    const pubkeys = source.filter((document) => document.type === 'account').map((document) => document.pubkey);
    const accounts = source
      .filter((document) => document.type === 'account' && pubkeys.indexOf(document.pubkey) === pubkeys.lastIndexOf(document.pubkey))
      .slice(0, 40);
    expect(accounts).toHaveLength(40);
    const newer = accounts.map((account) => ({ ...account, tier: 'premium_plus', _ts: (account._ts as number) + 100 }));
    await Promise.all([
      migrateAll(ctx, { batchSize: 30 }),
      (async () => {
        for (const document of newer) await applyDocuments(db.prisma, [document], { source: 'sync' });
      })(),
    ]);
    const { rows } = await db.pool.query<{ tier: string }>('SELECT tier FROM accounts WHERE pubkey = ANY($1)', [
      accounts.map((a) => a.pubkey),
    ]);
    expect(rows.map((row) => row.tier)).toEqual(accounts.map(() => 'premium_plus'));
  });
});

describe('failure, resume and concurrency', () => {
  /** The tables after one uninterrupted, sequential run: what every run here must end at. */
  let clean: Record<string, string[]>;
  beforeAll(async () => {
    await truncateAll(db.pool);
    await migrateAll(ctx, { batchSize: 80 });
    clean = await snapshotTables(db.pool);
  });

  it('records a run that fails as failed, and resuming it ends as a clean run does', async () => {
    await db.pool.query('ALTER TABLE payments RENAME TO payments_away');
    try {
      // Every range holds payments: the first page with one fails the range, and the run stops.
      await expect(migrateAll(ctx, { batchSize: 80, concurrency: 1 })).rejects.toThrow(/payments/);
    } finally {
      await db.pool.query('ALTER TABLE payments_away RENAME TO payments');
    }
    const [failed] = await runRows();
    expect(failed).toMatchObject({ state: 'failed' });
    expect(await loadPositions(db.prisma)).toEqual([]);

    const resumed = await migrateAll(ctx, { batchSize: 80, resume: true });
    expect(resumed).toMatchObject({ done: true, processed: source.length });
    expect(await runRows()).toEqual([expect.objectContaining({ state: 'completed', processed: source.length })]);
    expect(await snapshotTables(db.pool)).toEqual(clean);
  });

  it('migrates every range at once to the same end state', async () => {
    const parallel = await migrateAll(ctx, { batchSize: 80, concurrency: 4 });
    expect(parallel).toMatchObject({ done: true, processed: source.length });
    expect(await snapshotTables(db.pool)).toEqual(clean);
  });
});

describe('dry run and MIGRATION_MODE', () => {
  it('refuses to write without MIGRATION_MODE=true, saying so', async () => {
    const refused = migrateAll({ ...ctx, config: readOnlyMode });
    await expect(refused).rejects.toBeInstanceOf(MigrationModeDisabledError);
    await expect(refused).rejects.toThrow(/MIGRATION_MODE=true/);
    expect(await runRows()).toEqual([]);
  });

  it('reads and classifies everything in a dry run, even without MIGRATION_MODE, and writes nothing at all', async () => {
    const dry = await migrateAll({ ...ctx, config: readOnlyMode }, { dryRun: true, batchSize: 110 });
    expect(dry).toMatchObject({ done: true, dryRun: true, processed: source.length });
    expect(Object.values(await countRows(db.pool)).every((n) => n === 0)).toBe(true);
    expect(await countQuarantine(db.pool)).toBe(0);
    expect(await runRows()).toEqual([]);

    const real = await migrateAll(ctx, { batchSize: 110 });
    // The last part reported depends on which range finished last, and so does the order the charges were summed in.
    expect({ ...dry, runId: '', dryRun: false, part: '', requestUnits: 0 }).toEqual({ ...real, runId: '', part: '', requestUnits: 0 });
    expect(dry.requestUnits).toBeCloseTo(real.requestUnits, 6);
  });
});

describe('per type and per user', () => {
  it('migrates one type with the guide API, and skips existing rows with skipExisting', async () => {
    useServices({ config: migrationMode, prisma: db.prisma, cosmos: container });
    const progress = await DataMigrationUtility.migrateAccounts({ batchSize: 60, skipExisting: false, dryRun: false });
    const accounts = typeCount('account');
    // It reads every feed range and keeps the accounts.
    expect(progress).toMatchObject({ kind: 'type', done: true, processed: accounts });
    expect(Object.keys(progress.processedByPart)).toEqual(rangeKeys);
    expect((await countRows(db.pool)).account).toBe(progress.written);
    expect((await countRows(db.pool)).payment).toBe(0);

    const skipping = await DataMigrationUtility.migrateAccounts({ batchSize: 60, skipExisting: true });
    expect(skipping).toMatchObject({ written: 0, skipped: progress.written, processed: accounts });
  });

  it('migrates all of one user’s documents, and nothing of anyone else', async () => {
    const byUser = new Map<string, Doc[]>();
    for (const document of source) byUser.set(String(document.pubkey), [...(byUser.get(String(document.pubkey)) ?? []), document]);
    const [pubkey, documents] = [...byUser].sort((a, b) => b[1].length - a[1].length)[0] as [string, Doc[]];
    expect(new Set(documents.map((document) => document.type)).size).toBeGreaterThan(3);

    const progress = await migrateUser(ctx, pubkey);
    expect(progress).toMatchObject({ kind: 'user', part: 'all', processed: documents.length });
    expect(await unaccounted(db.pool, documents)).toEqual({ missing: [], extra: 0 });
  });

  it('verifies one user through the guide API: consistent after migrating them, not before', async () => {
    const pubkey = String((source.find((document) => document.type === 'account') as Doc).pubkey);
    useServices({ config: migrationMode, prisma: db.prisma, cosmos: container });
    expect(await DataMigrationUtility.verifyAccountMigration(pubkey)).toBe(false);
    await DataMigrationUtility.migrateUser(pubkey);
    expect(await DataMigrationUtility.verifyAccountMigration(pubkey)).toBe(true);
    // Everyone else is still missing: repair migrates them, and the next pass finds nothing.
    const repaired = await DataMigrationUtility.verifyAll({ repair: true });
    expect(repaired.consistent).toBe(false);
    expect(repaired.repair?.written).toBeGreaterThan(0);
    await expect(DataMigrationUtility.verifyAll()).resolves.toMatchObject({ consistent: true });
    useServices({ config: loadConfig({}), prisma: db.prisma, cosmos: container });
    await expect(DataMigrationUtility.verifyAll({ repair: true })).rejects.toThrow(/MIGRATION_MODE=true/);
  });

  it('migrates one user’s backup jobs only', async () => {
    // A generated user's job: the broken documents (ids ending -broken-N) share one pubkey and are all quarantined.
    const job = source.find((document) => document.type === 'backup-job' && !String(document.id).includes('-broken-')) as Doc;
    const jobs = source.filter((document) => document.type === 'backup-job' && document.pubkey === job.pubkey);
    useServices({ config: migrationMode, prisma: db.prisma, cosmos: container });
    const progress = await DataMigrationUtility.migrateUserBackupJobs(String(job.pubkey));
    expect(progress).toMatchObject({ processed: jobs.length, written: jobs.length });
    const counts = await countRows(db.pool);
    expect(counts['backup-job']).toBe(jobs.length);
    expect(counts.account).toBe(0);
  });

  it('resumes the latest unfinished run of the same scope with resume: true', async () => {
    await migrateType(ctx, 'payment', { batchSize: 60 });
    await db.pool.query(`UPDATE migration_runs SET state = 'failed'`);
    await db.pool.query(`UPDATE migration_checkpoints SET done = false, continuation = NULL, processed = 0`);
    const runs = (await db.pool.query<{ id: string }>('SELECT id FROM migration_runs')).rows;
    const resumed = await migrateType(ctx, 'payment', { batchSize: 60, resume: true });
    expect(resumed.runId).toBe(runs[0]?.id);
    expect((await db.pool.query('SELECT state FROM migration_runs')).rows).toEqual([{ state: 'completed' }]);
  });
});

describe('incremental catch-up from where the full load ended', () => {
  it('has nothing to continue from before a full load completed, and says so', async () => {
    await expect(migrateIncremental(ctx)).rejects.toBeInstanceOf(NoChangeFeedPositionsError);
    await expect(migrateIncremental(ctx)).rejects.toThrow(/npm run migrate:full/);
  });

  it('applies every document created, replaced and updated while the full load ran, at its latest version', async () => {
    const [log, account, payment] = ['notification-log', 'account', 'payment'].map(
      (type) => source.find((document) => document.type === type && !String(document.id).includes('-broken-')) as Doc,
    ) as [Doc, Doc, Doc];
    const writes: Array<Promise<unknown>> = [];
    let pages = 0;
    // One range at a time: the writes land after the first range has caught up, so the load cannot see those in it.
    const load = await migrateAll(ctx, {
      batchSize: 80,
      concurrency: 1,
      onProgress: () => {
        pages += 1;
        if (pages !== 6) return;
        writes.push(
          (async () => {
            for (let index = 0; index < 12; index += 1) {
              const created = {
                ...stripSystem(log),
                id: `written-during-load-${index}`,
                pubkey: `${'e'.repeat(60)}${String(index).padStart(4, '0')}`,
              };
              await container.items.create(created);
            }
            // As the service changes documents: `modified` moves on (within one second of the load, `_ts` may not).
            const replaced = { ...stripSystem(account), tier: 'premium_plus', modified: Number(account.modified ?? 0) + 1000 };
            await container.item(String(account.id), String(account.pubkey)).replace(replaced);
            await container.items.upsert({
              ...stripSystem(payment),
              lnInvoice: 'lnbc-updated-during-load',
              modified: Number(payment.modified ?? 0) + 1000,
            });
            await container.items.upsert({
              ...stripSystem(payment),
              lnInvoice: 'lnbc-updated-twice-during-load',
              modified: Number(payment.modified ?? 0) + 2000,
            });
          })(),
        );
      },
    });
    await Promise.all(writes);
    expect(load.done).toBe(true);
    const positions = await loadPositions(db.prisma);

    const progress = await migrateIncremental(ctx, { batchSize: 60 });
    expect(progress).toMatchObject({ kind: 'incremental', done: true, failed: 0, quarantined: 0 });
    // Some of those changes were in ranges the load had finished: only the catch-up could apply them.
    expect(progress.written).toBeGreaterThan(0);
    const everything = await readAll(container);
    expect(await unaccounted(db.pool, everything)).toEqual({ missing: [], extra: 0 });
    const report = await verifyAll(ctx);
    expect({ different: report.different.count, missingInCosmos: report.missingInCosmos.count }).toEqual({
      different: 0,
      missingInCosmos: 0,
    });
    const column = async (table: string, name: string, id: unknown) =>
      (await db.pool.query<Record<string, unknown>>(`SELECT "${name}" AS value FROM ${table} WHERE id = $1`, [id])).rows.map(
        (row) => row.value,
      );
    expect(await column('accounts', 'tier', account.id)).toEqual(['premium_plus']);
    expect(await column('payments', 'lnInvoice', payment.id)).toEqual(['lnbc-updated-twice-during-load']);
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM notification_logs WHERE id LIKE 'written-during-load-%'`,
    );
    expect(rows[0]?.n).toBe(12);

    // The positions moved on from where the load left them, and a second catch-up finds nothing new.
    const moved = await loadPositions(db.prisma);
    expect(moved.map((position) => position.rangeKey)).toEqual(positions.map((position) => position.rangeKey));
    expect(moved.some((position, index) => position.continuation !== positions[index]?.continuation)).toBe(true);
    const again = await migrateIncremental(ctx, { batchSize: 60 });
    expect(again).toMatchObject({ processed: 0, written: 0, done: true });
  });
});

/** The document as a client writes it: Cosmos sets the system properties itself. */
function stripSystem(document: Doc): Doc {
  return Object.fromEntries(Object.entries(document).filter(([key]) => !key.startsWith('_')));
}
