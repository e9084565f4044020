import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { type DocumentType, documentTypeNames, documentTypeOf } from '../../shared/domain/document-types.js';
import { documentToRow } from '../../shared/domain/mapping.js';
import { formatStatsForHumans, getMigrationStats, type MigrationStats } from '../../shared/stats/index.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type CosmosTestServer, createTestContainer, readAllDocuments, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

type Doc = Record<string, unknown>;

const cosmosTypeNames = [
  'account',
  'account-settings',
  'backup-job',
  'payment',
  'notification-subscription',
  'notification-settings',
  'notification-log',
];

describe('formatStatsForHumans', () => {
  it("prints the guide's layout for all seven types, then the quarantine and the last run", () => {
    const counts = (values: number[]) =>
      Object.fromEntries(cosmosTypeNames.map((type, index) => [type, values[index]])) as MigrationStats['cosmos'];
    const stats: MigrationStats = {
      cosmos: counts([1523, 1400, 342, 20_117, 800, 700, 1_234_567]),
      postgres: counts([1523, 1398, 342, 10_000, 0, 700, 1_234_567]),
      quarantined: 3,
      progress: counts([100, 99.9, 100, 49.7, 0, 100, 100]),
      quarantinedByType: { ...counts([0, 1, 0, 2, 0, 0, 0]), other: 0 },
      lastRun: {
        id: 'run-1',
        kind: 'full',
        state: 'completed',
        dryRun: false,
        startedAt: '2026-11-24T10:00:00.000Z',
        finishedAt: '2026-11-24T10:02:13.512Z',
        processed: 25_000,
        written: 24_990,
        unchanged: 7,
        quarantined: 3,
        failed: 0,
        error: null,
      },
    };
    expect(formatStatsForHumans(stats)).toBe(
      [
        '=== Migration Statistics ===',
        'CosmosDB:',
        '  Accounts: 1,523',
        '  Account Settings: 1,400',
        '  Backup Jobs: 342',
        '  Payments: 20,117',
        '  Notification Subscriptions: 800',
        '  Notification Settings: 700',
        '  Notification Logs: 1,234,567',
        'PostgreSQL:',
        '  Accounts: 1,523',
        '  Account Settings: 1,398',
        '  Backup Jobs: 342',
        '  Payments: 10,000',
        '  Notification Subscriptions: 0',
        '  Notification Settings: 700',
        '  Notification Logs: 1,234,567',
        '',
        'Migration Progress:',
        '  Accounts: 100.0%',
        '  Account Settings: 99.9%',
        '  Backup Jobs: 100.0%',
        '  Payments: 49.7%',
        '  Notification Subscriptions: 0.0%',
        '  Notification Settings: 100.0%',
        '  Notification Logs: 100.0%',
        '',
        'Quarantined: 3 (Account Settings: 1, Payments: 2)',
        'Last run: full completed, started 2026-11-24T10:00:00.000Z, finished 2026-11-24T10:02:13.512Z; ' +
          '25,000 processed, 24,990 written, 7 unchanged, 3 quarantined, 0 failed',
      ].join('\n'),
    );
    expect(
      formatStatsForHumans({ ...stats, quarantined: 0, quarantinedByType: { ...counts([0, 0, 0, 0, 0, 0, 0]), other: 0 }, lastRun: null }),
    ).toMatch(/\n\nQuarantined: 0\nLast run: none$/);
  });
});

describe('getMigrationStats', () => {
  let db: TestDatabase;
  let cosmos: CosmosTestServer;
  let container: Container;
  let ctx: Pick<AppContext, 'prisma' | 'cosmos'>;

  beforeAll(async () => {
    [db, cosmos] = await Promise.all([createTestDatabase(), startCosmosServer()]);
    container = await createTestContainer(cosmos.client);
    ctx = { prisma: db.prisma, cosmos: container };
  });
  afterAll(async () => {
    await Promise.allSettled([db?.drop(), cosmos?.stop()]);
  });

  it('reports empty sides as 0 documents, 100% done, nothing quarantined and no last run', async () => {
    const stats = await getMigrationStats(ctx);
    expect(stats).toEqual({
      cosmos: Object.fromEntries(cosmosTypeNames.map((type) => [type, 0])),
      postgres: Object.fromEntries(cosmosTypeNames.map((type) => [type, 0])),
      quarantined: 0,
      progress: Object.fromEntries(cosmosTypeNames.map((type) => [type, 100])),
      quarantinedByType: { ...Object.fromEntries(cosmosTypeNames.map((type) => [type, 0])), other: 0 },
      lastRun: null,
    });
  });

  it('counts each side by Cosmos type name, the quarantine, progress and the last run', async () => {
    const dataset: Doc[] = [...generateDataset({ users: 80, seed: 11, messy: true })];
    const settings = dataset.filter((document) => documentTypeOf(document.type) === 'account-settings');
    const legacySettings = settings.filter((document) => document.type === 'user-settings');
    expect(legacySettings.length).toBeGreaterThan(0);
    const payment = dataset.find((document) => document.type === 'payment')!;
    // Unmappable: a payment, an old `user-settings` document, and a document of no known type.
    const broken: Doc[] = [
      { ...payment, id: 'payment-broken-1', lnAmountSat: '21000' },
      { ...legacySettings[0], id: 'user-settings-broken-1', socialSharing: 'yes' },
      { ...payment, id: 'profile-1', type: 'profile' },
    ];
    expect((await loadDocuments(container, [...dataset, ...broken])).refused).toEqual([]);
    const stored = await readAllDocuments<Doc>(container);

    // Migrate everything except half the payments and all the notification logs.
    const payments = stored.filter((document) => document.type === 'payment' && !String(document.id).includes('broken'));
    const heldBack = new Set([
      ...payments.slice(0, Math.floor(payments.length / 2)),
      ...stored.filter((d) => d.type === 'notification-log'),
    ]);
    const result = await applyDocuments(
      db.prisma,
      stored.filter((document) => !heldBack.has(document)),
      { source: 'migration' },
    );
    expect(result.quarantined).toBe(3);
    expect(result.failed).toBe(0);

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
        error: 'Cosmos answered 503',
        startedAt: new Date('2026-11-24T09:30:00Z'),
      },
    });

    const stats = await getMigrationStats(ctx);

    const cosmosCount = (type: DocumentType) => [...dataset, ...broken].filter((document) => documentTypeOf(document.type) === type).length;
    const migrated = (type: DocumentType) =>
      stored.filter((document) => !heldBack.has(document) && documentTypeOf(document.type) === type && documentToRow(document).ok).length;
    const quarantinedOf: Partial<Record<DocumentType, number>> = { payment: 1, 'account-settings': 1 };
    const expectedProgress = (type: DocumentType) => {
      const total = cosmosCount(type);
      return total === 0 ? 100 : Math.floor(((migrated(type) + (quarantinedOf[type] ?? 0)) * 1000) / total) / 10;
    };

    expect(Object.keys(stats)).toEqual(expect.arrayContaining(['cosmos', 'postgres', 'quarantined', 'progress']));
    expect(Object.keys(stats.cosmos).sort()).toEqual([...cosmosTypeNames].sort());
    for (const type of documentTypeNames) {
      expect(stats.cosmos[type], type).toBe(cosmosCount(type));
      expect(stats.postgres[type], type).toBe(migrated(type));
      expect(stats.progress[type], type).toBe(expectedProgress(type));
      expect(stats.quarantinedByType[type], type).toBe(quarantinedOf[type] ?? 0);
    }
    // The `user-settings` documents count as account settings, on both sides.
    expect(stats.cosmos['account-settings']).toBe(settings.length + 1);
    expect(stats.postgres['account-settings']).toBe(await db.prisma.userSettings.count());
    expect(stats.postgres.payment).toBe(await db.prisma.payment.count());
    expect(stats.progress.account).toBe(100);
    expect(stats.progress['notification-log']).toBe(0);
    expect(stats.progress.payment).toBeGreaterThan(40);
    expect(stats.progress.payment).toBeLessThan(60);
    expect(stats.quarantined).toBe(3);
    expect(stats.quarantinedByType.other).toBe(1);

    expect(stats.lastRun).toEqual({
      id: 'run-new',
      kind: 'full',
      state: 'failed',
      dryRun: false,
      startedAt: '2026-11-24T09:30:00.000Z',
      finishedAt: null,
      processed: 5_000_000_000,
      written: 4321,
      unchanged: 2,
      quarantined: 3,
      failed: 1,
      error: 'Cosmos answered 503',
    });
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);

    const text = formatStatsForHumans(stats);
    const lines = (values: Record<DocumentType, string>) => documentTypeNames.map((type) => `  ${labelOf(type)}: ${values[type]}`);
    const asCount = (value: (type: DocumentType) => number) =>
      Object.fromEntries(documentTypeNames.map((type) => [type, value(type).toLocaleString('en-US')])) as Record<DocumentType, string>;
    expect(text).toBe(
      [
        '=== Migration Statistics ===',
        'CosmosDB:',
        ...lines(asCount(cosmosCount)),
        'PostgreSQL:',
        ...lines(asCount(migrated)),
        '',
        'Migration Progress:',
        ...lines(
          Object.fromEntries(documentTypeNames.map((type) => [type, `${expectedProgress(type).toFixed(1)}%`])) as Record<
            DocumentType,
            string
          >,
        ),
        '',
        'Quarantined: 3 (Account Settings: 1, Payments: 1, Unknown type: 1)',
        'Last run: full failed, started 2026-11-24T09:30:00.000Z; 5,000,000,000 processed, 4,321 written, 2 unchanged, ' +
          '3 quarantined, 1 failed; error: Cosmos answered 503',
      ].join('\n'),
    );
  });
});

function labelOf(type: DocumentType): string {
  const labels: Record<DocumentType, string> = {
    account: 'Accounts',
    'account-settings': 'Account Settings',
    'backup-job': 'Backup Jobs',
    payment: 'Payments',
    'notification-subscription': 'Notification Subscriptions',
    'notification-settings': 'Notification Settings',
    'notification-log': 'Notification Logs',
  };
  return labels[type];
}
