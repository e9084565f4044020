import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { switchCommand } from '../../cli/commands/switch.js';
import { type LocalCosmosServer, startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { PhaseReader } from '../../shared/context/phase-reader.js';
import { PostgresIsPrimaryError, SwitchInProgressError } from '../../shared/core/errors.js';
import { createCosmosRepositories } from '../../shared/cosmos/cosmos-repository.js';
import { cosmosPointReader } from '../../shared/cosmos/point-reads.js';
import type { AccountDocument, PaymentDocument } from '../../shared/domain/document-types.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { recordPendingSync } from '../../shared/mirror/pending-sync.js';
import { readStoredPhase } from '../../shared/postgres/phase-store.js';
import { createPrismaRepositories } from '../../shared/postgres/prisma-repository.js';
import { createRepositories } from '../../shared/repositories/repository-factory.js';
import { checkReadiness } from '../../shared/switch/readiness.js';
import { runSwitch } from '../../shared/switch/run-switch.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import { applyChangeSet } from '../../shared/sync/sync-change-batch.js';
import { runSync } from '../../shared/sync/sync-runner.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { quarantineEntry, saveQuarantine } from '../../shared/write-path/quarantine.js';
import { createTestContainer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { baseEnv, runCli } from '../support/run-cli.js';
import { loadSource, sourceDocuments } from './fixtures/migration-source.js';
import { truncateAll } from './fixtures/migration-tables.js';

/**
 * The switch of the primary database, in this process: the sync in every phase (the mirror's echoes told from
 * genuine Cosmos writes), the readiness checks each refusing, and switches both ways with writes going on. The
 * same with several service processes and the switch killed at each step is `switch-live.test.ts`.
 */

type Doc = Record<string, unknown>;

let cosmos: LocalCosmosServer;
let db: TestDatabase;
let container: Container;
let source: Doc[];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startLocalCosmosServer(), createTestDatabase()]);
});
afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
});
beforeEach(async () => {
  await truncateAll(db.pool);
  container = await createTestContainer(cosmos.client);
  source = await loadSource(container, sourceDocuments(12, 91));
});

/** A context in the phase the settings say (no switch recorded yet); the phase is read afresh on every call. */
function contextWith(settings: Record<string, string> = {}): AppContext {
  return {
    prisma: db.prisma,
    cosmos: container,
    config: loadConfig({ MIGRATION_MODE: 'true', DUAL_DATABASE_MODE: 'true', DATABASE_URL: db.url, ...settings }),
  };
}

/** The full load, and a reconcile pass applied after it: what the switch to PostgreSQL expects to have happened. */
async function loadEverything(ctx: AppContext): Promise<void> {
  await migrateAll(ctx, { batchSize: 100 });
  await reconcile(ctx, { apply: true });
}

const firstAccount = () => source.find((document) => document.type === 'account' && !String(document.id).includes('-broken-')) as Doc;

function withoutSystem(document: Doc): Doc {
  return Object.fromEntries(Object.entries(document).filter(([key]) => !key.startsWith('_')));
}

async function accountRow(pubkey: string) {
  const { rows } = await db.pool.query<{ username: string | null; awaitingCosmos: string | null; cosmosTs: string }>(
    'SELECT "username", "awaitingCosmos", "cosmosTs" FROM "accounts" WHERE "pubkey" = $1',
    [pubkey],
  );
  return rows[0];
}

async function quarantineReasons(): Promise<string[]> {
  const { rows } = await db.pool.query<{ reasonCode: string }>('SELECT "reasonCode" FROM "quarantine" ORDER BY "key"');
  return rows.map((row) => row.reasonCode);
}

describe('the sync in every phase', () => {
  it('applies a Cosmos write it reads while USE_POSTGRESQL=true: the change is not dropped (the reproduction)', async () => {
    const ctx = contextWith();
    await loadEverything(ctx);
    const account = firstAccount();
    await container.items.upsert({ ...withoutSystem(account), username: 'replaced-in-cosmos', modified: Date.now() });
    const primary = contextWith({ USE_POSTGRESQL: 'true' });
    const summary = await runSync(primary, { mode: 'LatestVersion', once: true });
    expect(summary.written).toBeGreaterThanOrEqual(1);
    await runSync(ctx, { mode: 'LatestVersion', once: true });
    expect((await accountRow(account.pubkey as string))?.username).toBe('replaced-in-cosmos');
  });

  it("never writes back the mirror's copy, and confirms the row awaiting it with Cosmos's version", async () => {
    const ctx = contextWith({ USE_POSTGRESQL: 'true' });
    await loadEverything(contextWith());
    const account = firstAccount();
    const pubkey = account.pubkey as string;
    const postgres = createPrismaRepositories(db.prisma);
    const mirror = createCosmosRepositories(container, { markAsMirrorCopies: true });
    const v1 = await postgres.account.upsert({ ...withoutSystem(account), username: 'v1' } as AccountDocument);
    expect((await accountRow(pubkey))?.awaitingCosmos).toMatch(/^[0-9a-f]{64}$/);
    await mirror.account.upsert(v1);
    // A newer write in PostgreSQL before the echo of v1 comes back: the echo must neither undo it nor confirm it.
    const v2 = await postgres.account.upsert({ ...withoutSystem(account), username: 'v2' } as AccountDocument);
    const first = await runSync(ctx, { mode: 'LatestVersion', once: true });
    expect(first).toMatchObject({ echoes: 1, written: 0, diverged: 0 });
    expect(await accountRow(pubkey)).toMatchObject({ username: 'v2', awaitingCosmos: expect.any(String) });
    // The mirror's copy of v2 ends the wait; the row then carries Cosmos's version of it.
    await mirror.account.upsert(v2);
    await runSync(ctx, { mode: 'LatestVersion', once: true });
    const confirmed = await accountRow(pubkey);
    const inCosmos = (await container.item(account.id as string, pubkey).read<Doc>()).resource as Doc;
    expect(confirmed).toMatchObject({ username: 'v2', awaitingCosmos: null, cosmosTs: String(inCosmos._ts) });
    expect(inCosmos._pgMirror).toMatch(/^[0-9a-f]{64}$/);
    // The repositories never show the mark.
    expect(await createCosmosRepositories(container).account.getByPubkey(pubkey)).not.toHaveProperty('_pgMirror');
  });

  it('keeps both versions, as diverged, when Cosmos is written while PostgreSQL holds an unconfirmed write', async () => {
    const ctx = contextWith({ USE_POSTGRESQL: 'true' });
    await loadEverything(contextWith());
    const account = firstAccount();
    const pubkey = account.pubkey as string;
    await createPrismaRepositories(db.prisma).account.upsert({
      ...withoutSystem(account),
      username: 'written-in-postgres',
    } as AccountDocument);
    // A writer still on Cosmos (or a tool) writes the same account there.
    await container.items.upsert({ ...withoutSystem(account), username: 'written-in-cosmos', modified: Date.now() + 60_000 });
    const summary = await runSync(ctx, { mode: 'LatestVersion', once: true });
    expect(summary).toMatchObject({ written: 0, diverged: 1 });
    expect((await accountRow(pubkey))?.username).toBe('written-in-postgres');
    expect(await quarantineReasons()).toContain('diverged');
    const report = await verifyAll(ctx);
    expect(report.consistent).toBe(false);
  });

  it('does not bring back a document PostgreSQL deleted when a stale copy of it reaches the sync', async () => {
    const ctx = contextWith({ USE_POSTGRESQL: 'true' });
    await loadEverything(contextWith());
    const payment = source.find((document) => document.type === 'payment' && !String(document.id).includes('-broken-')) as Doc;
    // Read before the delete, written to Cosmos after it: the write of a process still on Cosmos.
    const stale = { ...withoutSystem(payment), isPaid: true };
    expect(await createPrismaRepositories(db.prisma).payment.delete(payment.id as string, payment.pubkey as string)).toBe(true);
    await container.items.upsert(stale);
    const summary = await runSync(ctx, { mode: 'LatestVersion', once: true });
    const { rows } = await db.pool.query('SELECT 1 FROM "payments" WHERE "id" = $1', [payment.id]);
    expect(rows).toHaveLength(0);
    // Cosmos holds it and PostgreSQL does not: kept as diverged for an operator, not lost and not resurrected.
    expect(summary.diverged).toBe(1);
    expect(await quarantineReasons()).toContain('diverged');
  });

  it("lets no delete from Cosmos remove a row PostgreSQL wrote until Cosmos holds that row's version", async () => {
    await loadEverything(contextWith());
    const account = firstAccount();
    const pubkey = account.pubkey as string;
    await createPrismaRepositories(db.prisma).account.upsert({ ...withoutSystem(account), username: 'kept' } as AccountDocument);
    // A delete the change feed (AllVersionsAndDeletes) delivers, however new: PostgreSQL's write is not Cosmos's to undo.
    const far = Math.floor(Date.now() / 1000) + 3600;
    const outcome = await applyChangeSet(db.prisma, cosmosPointReader(container), {
      upserts: [],
      deletes: [{ id: account.id as string, pubkey, ts: far, lsn: Number.MAX_SAFE_INTEGER }],
    });
    expect(outcome.deleted).toBe(0);
    expect((await accountRow(pubkey))?.username).toBe('kept');
    // Once confirmed (the mirror's copy came back), the row is Cosmos's again and a later delete removes it.
    await db.pool.query('UPDATE "accounts" SET "awaitingCosmos" = NULL WHERE "pubkey" = $1', [pubkey]);
    const removed = await applyChangeSet(db.prisma, cosmosPointReader(container), {
      upserts: [],
      deletes: [{ id: account.id as string, pubkey, ts: far, lsn: Number.MAX_SAFE_INTEGER }],
    });
    expect(removed.deleted).toBe(1);
  });

  it('refuses to migrate from Cosmos while PostgreSQL is primary', async () => {
    await expect(migrateAll(contextWith({ USE_POSTGRESQL: 'true' }), { batchSize: 100 })).rejects.toBeInstanceOf(PostgresIsPrimaryError);
  });
});

describe('migrate:switch --check refuses, naming the check', () => {
  const failing = async (ctx: AppContext, target: 'postgresql' | 'cosmos') =>
    (await checkReadiness(ctx, target)).checks.filter((check) => !check.passed).map((check) => check.name);

  it('passes every check after a full load, a reconcile pass and with nothing pending', async () => {
    const ctx = contextWith();
    await loadEverything(ctx);
    expect(await failing(ctx, 'postgresql')).toEqual([]);
  });

  it('sync-lag: no full load, and then changes older than the bound not yet applied', async () => {
    const ctx = contextWith();
    expect(await failing(ctx, 'postgresql')).toContain('sync-lag');
    await loadEverything(ctx);
    await container.items.upsert({ ...withoutSystem(firstAccount()), username: 'changed', modified: Date.now() });
    // Unapplied, and older than a bound of 0 once its second (`_ts` is whole seconds) has passed.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const lag = (await checkReadiness(ctx, 'postgresql', { maxLagSeconds: 0 })).checks.find((check) => check.name === 'sync-lag');
    expect(lag).toMatchObject({ passed: false, detail: { ranges: expect.arrayContaining([expect.objectContaining({ pending: 1 })]) } });
    expect(lag?.figure).toMatch(/1 change\(s\) pending/);
  });

  it('pending-sync: a mirror write waiting for Cosmos (switching back)', async () => {
    const ctx = contextWith({ USE_POSTGRESQL: 'true' });
    await loadEverything(contextWith());
    const account = firstAccount();
    await recordPendingSync(db.prisma, { type: 'account', pubkey: account.pubkey as string, id: account.id as string }, 'unreachable');
    expect(await failing(ctx, 'cosmos')).toContain('pending-sync');
  });

  it('runs-in-progress: a migration run that is running', async () => {
    const ctx = contextWith();
    await loadEverything(ctx);
    await db.pool.query(`INSERT INTO "migration_runs" ("id", "kind", "state") VALUES ('running-run', 'full', 'running')`);
    expect(await failing(ctx, 'postgresql')).toEqual(['runs-in-progress']);
  });

  it('reconcile: no reconcile pass applied since the full load (LatestVersion mode)', async () => {
    const ctx = contextWith();
    await migrateAll(ctx, { batchSize: 100 });
    expect(await failing(ctx, 'postgresql')).toEqual(['reconcile']);
  });

  it('quarantine: a document waiting for a row another holds', async () => {
    const ctx = contextWith();
    await loadEverything(ctx);
    const account = firstAccount();
    await saveQuarantine(
      db.prisma,
      [
        quarantineEntry(
          { ...withoutSystem(account), id: 'another-id', _ts: 1 },
          'competes',
          'conflict',
          `accounts:${String(account.pubkey)}`,
        ),
      ],
      'sync',
    );
    expect(await failing(ctx, 'postgresql')).toEqual(['quarantine']);
  });

  it('verification: a row that differs from its document', async () => {
    const ctx = contextWith();
    await loadEverything(ctx);
    await db.pool.query(`UPDATE "accounts" SET "username" = 'changed behind the sync' WHERE "pubkey" = $1`, [firstAccount().pubkey]);
    expect(await failing(ctx, 'postgresql')).toEqual(['verification']);
  });

  it('prints each check with its figure and what to do, and exits 1 (the command line)', async () => {
    const ctx = contextWith();
    await migrateAll(ctx, { batchSize: 100 });
    const result = await runCli(switchCommand, ['--to', 'postgresql', '--check'], commandEnv());
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL\s+reconcile\s+no reconcile pass has been applied/);
    expect(result.stdout).toMatch(/what to do: run npm run migrate:reconcile -- --apply/);
    expect(result.stdout).toMatch(/PASS\s+verification/);
    expect(await readStoredPhase(db.prisma)).toBeUndefined();
  });
});

function commandEnv(extra: Record<string, string> = {}) {
  return baseEnv({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.settings.auth.kind === 'connectionString' ? cosmos.settings.auth.connectionString : '',
    AZURE_COSMOSDB_DATABASE_NAME: container.database.id,
    AZURE_COSMOSDB_CONTAINER_NAME: container.id,
    AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
    DUAL_DATABASE_MODE: 'true',
    MIGRATION_MODE: 'true',
    ...extra,
  });
}

describe('switching', () => {
  it('to PostgreSQL and back while writes go on, losing none, each pause recorded', async () => {
    const ctx = contextWith();
    await loadEverything(ctx);
    // A service process: its own phase reader, as RepositoryFactory has.
    const service = { ...contextWith(), phases: new PhaseReader(() => db.prisma, ctx.config) };
    const payments = createRepositories(service).payment;
    const template = source.find((document) => document.type === 'payment' && !String(document.id).includes('-broken-')) as Doc;
    const acknowledged: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n += 1) {
        const id = `switch-payment-${n}`;
        try {
          await payments.create({ ...withoutSystem(template), id, created: Date.now() } as PaymentDocument);
          acknowledged.push(id);
        } catch (error) {
          if (!(error instanceof SwitchInProgressError)) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const follower = runSync(ctx, { mode: 'LatestVersion', pollIntervalMs: 100, signal: AbortSignal.timeout(60_000) }).catch(
      () => undefined,
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const there = await runSwitch(ctx, { target: 'postgresql', maxPauseMs: 20_000 });
      expect(there).toMatchObject({ outcome: 'completed', phaseAfter: 'postgresql-primary' });
      expect((await readStoredPhase(db.prisma))?.phase).toBe('postgresql-primary');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const back = await runSwitch(ctx, { target: 'cosmos', maxPauseMs: 20_000 });
      expect(back).toMatchObject({ outcome: 'completed', phaseAfter: 'cosmos-primary' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      writing = false;
      await writer;
      expect(there.pauseMs).toBeGreaterThan(0);
      expect(back.pauseMs).toBeGreaterThan(0);
    } finally {
      writing = false;
      await writer.catch(() => undefined);
    }
    // Everything acknowledged is in the primary (Cosmos again) and, once the sync caught up, in PostgreSQL.
    await runSync(ctx, { mode: 'LatestVersion', once: true });
    void follower;
    const { resources } = await container.items
      .query<string>({ query: 'SELECT VALUE c.id FROM c WHERE STARTSWITH(c.id, "switch-payment-")' })
      .fetchAll();
    expect(new Set(resources)).toEqual(new Set(acknowledged));
    const { rows } = await db.pool.query<{ id: string }>(`SELECT "id" FROM "payments" WHERE "id" LIKE 'switch-payment-%'`);
    expect(new Set(rows.map((row) => row.id))).toEqual(new Set(acknowledged));
    expect((await verifyAll(ctx)).consistent).toBe(true);
    const { rows: steps } = await db.pool.query<{ step: string }>('SELECT "step" FROM "switch_steps" ORDER BY "switchId", "seq"');
    expect(steps.map((row) => row.step).filter((step) => step === 'flipped')).toHaveLength(2);
  });
});
