import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { formatStatsForHumans, getMigrationStats } from '../../shared/stats/index.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type CosmosTestServer, createTestContainer, readAllDocuments, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { truncateAll } from './fixtures/migration-tables.js';

type Doc = Record<string, unknown>;

/** Counts per type, in the seven types' order: account, account-settings, backup-job, payment, subscription, settings, log. */
function byType<T>(values: [T, T, T, T, T, T, T]): Record<string, T> {
  const types = [
    'account',
    'account-settings',
    'backup-job',
    'payment',
    'notification-subscription',
    'notification-settings',
    'notification-log',
  ];
  return Object.fromEntries(types.map((type, index) => [type, values[index]!]));
}

/** A distinct valid pubkey per number: account and settings rows are keyed by pubkey. */
const pubkeyOf = (n: number) => n.toString(16).padStart(64, '0');
const created = 1_732_000_000_000;

const account = (n: number): Doc => ({
  id: `account-${n}`,
  pubkey: pubkeyOf(n),
  type: 'account',
  tier: 'free',
  subscription: {},
  created,
});
const settings = (n: number, type: 'account-settings' | 'user-settings'): Doc => ({
  id: `${type}-${n}`,
  pubkey: pubkeyOf(n),
  type,
  socialSharing: true,
  created,
});
const backupJob = (n: number): Doc => ({
  id: `backup-job-${n}`,
  pubkey: pubkeyOf(n),
  type: 'backup-job',
  status: 'completed',
  backupType: 'full',
  requested: created,
});
const payment = (n: number): Doc => ({
  id: `payment-${n}`,
  pubkey: pubkeyOf(n),
  type: 'payment',
  paymentType: 'ln',
  lnHash: `hash-${n}`,
  lnInvoice: `lnbc${n}`,
  lnAmountSat: 21_000,
  tier: 'premium',
  billingCycle: 'monthly',
  priceCents: 1000,
  isPaid: true,
  expires: created + 30 * 86_400_000,
  created,
});
const notificationSettings = (n: number): Doc => ({
  id: `notification-settings-${n}`,
  pubkey: pubkeyOf(n),
  type: 'notification-settings',
  created,
});
const notificationLog = (n: number): Doc => ({
  id: `notification-log-${n}`,
  pubkey: pubkeyOf(n),
  type: 'notification-log',
  title: 'Hi',
  created,
});

/**
 * The fixture, counted by hand (the expected values below are these literals, not anything derived):
 * - account: 3, all migrated                                  -> Cosmos 3, PostgreSQL 3, 100.0%
 * - account-settings: 2 typed `account-settings`, 1 typed `user-settings`, and 1 `user-settings` that
 *   cannot be mapped; all migrated                            -> Cosmos 4, PostgreSQL 3, 1 quarantined, 100.0%
 * - backup-job: 2, all migrated                               -> Cosmos 2, PostgreSQL 2, 100.0%
 * - payment: 5, and 1 that cannot be mapped; 3 of the 5 and the broken one migrated
 *                                                             -> Cosmos 6, PostgreSQL 3, 1 quarantined, 4/6 = 66.6% (rounded down)
 * - notification-subscription: none                           -> Cosmos 0, PostgreSQL 0, 100.0%
 * - notification-settings: 1, migrated                        -> Cosmos 1, PostgreSQL 1, 100.0%
 * - notification-log: 3, none migrated                        -> Cosmos 3, PostgreSQL 0, 0.0%
 * - 1 document of no known type (`profile`), migrated         -> counted in no type, 1 quarantined as `other`
 */
const migrated: Doc[] = [
  account(1),
  account(2),
  account(3),
  settings(11, 'account-settings'),
  settings(12, 'account-settings'),
  settings(13, 'user-settings'),
  { ...settings(14, 'user-settings'), socialSharing: 'yes' },
  backupJob(21),
  backupJob(22),
  payment(31),
  payment(32),
  payment(33),
  { ...payment(36), lnAmountSat: '21000' },
  notificationSettings(51),
  { ...payment(61), id: 'profile-61', type: 'profile' },
];
const heldBack: Doc[] = [payment(34), payment(35), notificationLog(41), notificationLog(42), notificationLog(43)];

describe('getMigrationStats', () => {
  let db: TestDatabase;
  let cosmos: CosmosTestServer;

  beforeAll(async () => {
    [db, cosmos] = await Promise.all([createTestDatabase(), startCosmosServer()]);
  });
  afterAll(async () => {
    await Promise.allSettled([db?.drop(), cosmos?.stop()]);
  });
  // Each test starts from empty tables and its own empty container.
  beforeEach(() => truncateAll(db.pool));

  it('reports empty sides as 0 documents, 100% done, nothing quarantined and no last run', async () => {
    const ctx: Pick<AppContext, 'prisma' | 'cosmos'> = { prisma: db.prisma, cosmos: await createTestContainer(cosmos.client) };
    expect(await getMigrationStats(ctx)).toEqual({
      cosmos: byType([0, 0, 0, 0, 0, 0, 0]),
      postgres: byType([0, 0, 0, 0, 0, 0, 0]),
      quarantined: 0,
      progress: byType([100, 100, 100, 100, 100, 100, 100]),
      quarantinedByType: { ...byType([0, 0, 0, 0, 0, 0, 0]), other: 0 },
      quarantinedByReason: {},
      quarantineSettled: { resolved: 0, closed: 0 },
      pendingSync: { count: 0, oldestCreatedAt: null, oldestAgeSeconds: null, nextAttempt: null },
      lastRun: null,
      lastReconcile: null,
      phase: null,
      lastSwitch: null,
    });
  });

  it('counts each side by Cosmos type name, the quarantine, progress and the last run', async () => {
    const container = await createTestContainer(cosmos.client);
    const ctx: Pick<AppContext, 'prisma' | 'cosmos'> = { prisma: db.prisma, cosmos: container };
    expect((await loadDocuments(container, [...migrated, ...heldBack])).refused).toEqual([]);
    const ids = new Set(migrated.map((document) => document.id));
    const stored = (await readAllDocuments<Doc>(container)).filter((document) => ids.has(document.id));
    expect(stored).toHaveLength(migrated.length);
    expect(await applyDocuments(db.prisma, stored, { source: 'migration' })).toMatchObject({ written: 12, quarantined: 3, failed: 0 });

    await db.prisma.migrationRun.create({
      data: {
        id: 'run-old',
        kind: 'accounts',
        state: 'completed',
        startedAt: new Date('2026-11-20T08:00:00Z'),
        finishedAt: new Date('2026-11-20T08:01:00Z'),
      },
    });
    await db.prisma.migrationRun.create({
      data: {
        id: 'run-new',
        kind: 'full',
        state: 'failed',
        processed: 5_000_000_000n,
        written: 4321n,
        unchanged: 2n,
        quarantined: 3n,
        failed: 1n,
        requestUnits: 1234.56,
        throttled: 7n,
        error: 'Cosmos answered 503',
        startedAt: new Date('2026-11-24T09:30:00Z'),
      },
    });

    const stats = await getMigrationStats(ctx);

    expect(stats).toEqual({
      cosmos: byType([3, 4, 2, 6, 0, 1, 3]),
      postgres: byType([3, 3, 2, 3, 0, 1, 0]),
      quarantined: 3,
      progress: byType([100, 100, 100, 66.6, 100, 100, 0]),
      quarantinedByType: { ...byType([0, 1, 0, 1, 0, 0, 0]), other: 1 },
      quarantinedByReason: { unmappable: 3 },
      quarantineSettled: { resolved: 0, closed: 0 },
      pendingSync: { count: 0, oldestCreatedAt: null, oldestAgeSeconds: null, nextAttempt: null },
      lastRun: {
        id: 'run-new',
        kind: 'full',
        state: 'failed',
        // Failed, not running: never abandoned, whatever its heartbeat (set when the row was created).
        abandoned: false,
        heartbeatAt: expect.any(String),
        dryRun: false,
        startedAt: '2026-11-24T09:30:00.000Z',
        finishedAt: null,
        processed: 5_000_000_000,
        written: 4321,
        unchanged: 2,
        quarantined: 3,
        failed: 1,
        requestUnits: 1234.56,
        throttled: 7,
        error: 'Cosmos answered 503',
      },
      lastReconcile: null,
      phase: null,
      lastSwitch: null,
    });
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);

    expect(formatStatsForHumans(stats)).toBe(
      [
        '=== Migration Statistics ===',
        'CosmosDB:',
        '  Accounts: 3',
        '  Account Settings: 4',
        '  Backup Jobs: 2',
        '  Payments: 6',
        '  Notification Subscriptions: 0',
        '  Notification Settings: 1',
        '  Notification Logs: 3',
        'PostgreSQL:',
        '  Accounts: 3',
        '  Account Settings: 3',
        '  Backup Jobs: 2',
        '  Payments: 3',
        '  Notification Subscriptions: 0',
        '  Notification Settings: 1',
        '  Notification Logs: 0',
        '',
        'Migration Progress:',
        '  Accounts: 100.0%',
        '  Account Settings: 100.0%',
        '  Backup Jobs: 100.0%',
        '  Payments: 66.6%',
        '  Notification Subscriptions: 100.0%',
        '  Notification Settings: 100.0%',
        '  Notification Logs: 0.0%',
        '  (rows plus quarantined documents, of the Cosmos count: a quarantined document counts as handled)',
        '',
        'Quarantined: 3 (Account Settings: 1, Payments: 1, Unknown type: 1)',
        '  Open, by reason: unmappable 3',
        'Last run: full failed, started 2026-11-24T09:30:00.000Z; 5,000,000,000 processed, 4,321 written, 2 unchanged, ' +
          '3 quarantined, 1 failed; Cosmos reads: 1,235 RU, 7 throttled (429); error: Cosmos answered 503',
      ].join('\n'),
    );
  });
});
