import { describe, expect, it } from 'vitest';
import { formatStatsForHumans, type MigrationStats, progressPercent } from '../../shared/stats/index.js';

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
      quarantinedByReason: { unmappable: 2, conflict: 1 },
      quarantineSettled: { resolved: 4, closed: 1 },
      pendingSync: {
        count: 2,
        oldestCreatedAt: '2026-11-24T09:55:00.000Z',
        oldestAgeSeconds: 7_384,
        nextAttempt: '2026-11-24T12:00:10.000Z',
      },
      lastRun: {
        id: 'run-1',
        kind: 'full',
        state: 'completed',
        abandoned: false,
        heartbeatAt: '2026-11-24T10:02:13.512Z',
        dryRun: false,
        startedAt: '2026-11-24T10:00:00.000Z',
        finishedAt: '2026-11-24T10:02:13.512Z',
        processed: 25_000,
        written: 24_990,
        unchanged: 7,
        quarantined: 3,
        failed: 0,
        requestUnits: 20_480.5,
        throttled: 12,
        error: null,
      },
      lastReconcile: null,
      phase: null,
      lastSwitch: null,
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
        '  (rows plus quarantined documents, of the Cosmos count: a quarantined document counts as handled)',
        '',
        'Quarantined: 3 (Account Settings: 1, Payments: 2)',
        '  Open, by reason: conflict 1, unmappable 2',
        '  Settled (kept, not counted): 4 resolved, 1 closed (deleted in Cosmos)',
        'Pending Cosmos writes (pending_sync): 2, the oldest recorded 2026-11-24T09:55:00.000Z (2h 3m ago), ' +
          'the next due 2026-11-24T12:00:10.000Z',
        'Last run: full completed, started 2026-11-24T10:00:00.000Z, finished 2026-11-24T10:02:13.512Z; ' +
          '25,000 processed, 24,990 written, 7 unchanged, 3 quarantined, 0 failed; Cosmos reads: 20,481 RU, 12 throttled (429)',
      ].join('\n'),
    );
    const abandoned = {
      ...stats.lastRun!,
      state: 'running' as const,
      abandoned: true,
      finishedAt: null,
      heartbeatAt: '2026-11-24T10:01:00.000Z',
    };
    expect(formatStatsForHumans({ ...stats, lastRun: abandoned })).toContain(
      'Last run: full running, but ABANDONED (no heartbeat since 2026-11-24T10:01:00.000Z: killed, or it could not record its end; ' +
        'continue it with --resume), started 2026-11-24T10:00:00.000Z;',
    );
    const quiet = {
      ...stats,
      quarantined: 0,
      quarantinedByType: { ...counts([0, 0, 0, 0, 0, 0, 0]), other: 0 },
      quarantinedByReason: {},
      quarantineSettled: { resolved: 0, closed: 0 },
      pendingSync: { count: 0, oldestCreatedAt: null, oldestAgeSeconds: null, nextAttempt: null },
      lastRun: null,
    };
    expect(formatStatsForHumans(quiet)).toMatch(/\n  Notification Logs: 100.0%\n\nQuarantined: 0\nLast run: none$/);
  });

  it('adds the last reconcile pass once one has run, dry runs marked', () => {
    const counts = (values: number[]) =>
      Object.fromEntries(cosmosTypeNames.map((type, index) => [type, values[index]])) as MigrationStats['cosmos'];
    const stats = {
      cosmos: counts([0, 0, 0, 0, 0, 0, 0]),
      postgres: counts([0, 0, 0, 0, 0, 0, 0]),
      quarantined: 0,
      progress: counts([100, 100, 100, 100, 100, 100, 100]),
      quarantinedByType: { ...counts([0, 0, 0, 0, 0, 0, 0]), other: 0 },
      quarantinedByReason: {},
      quarantineSettled: { resolved: 0, closed: 0 },
      pendingSync: { count: 0, oldestCreatedAt: null, oldestAgeSeconds: null, nextAttempt: null },
      lastRun: null,
      phase: null,
      lastSwitch: null,
    };
    const pass = {
      id: 'pass-1',
      state: 'completed' as const,
      dryRun: false,
      startedAt: '2026-11-25T08:00:00.000Z',
      finishedAt: '2026-11-25T08:00:41.200Z',
      scanned: 1523,
      candidates: 5,
      confirmed: 4,
      removed: 3,
      keptRecreated: 1,
      keptChanged: 1,
      requestUnits: 51.6,
      throttled: 0,
      documents: 1520,
      error: null,
    };
    expect(formatStatsForHumans({ ...stats, lastReconcile: pass })).toMatch(
      /\nLast run: none\nLast reconcile: completed, started 2026-11-25T08:00:00.000Z, finished 2026-11-25T08:00:41.200Z; 1,523 compared, 5 missing in Cosmos, 4 confirmed gone, 3 removed, 1 kept \(created again\), 1 kept \(changed since read\); Cosmos reads: 52 RU, 0 throttled \(429\)$/,
    );
    expect(formatStatsForHumans({ ...stats, lastReconcile: { ...pass, dryRun: true, removed: 0 } })).toContain(
      'Last reconcile: (dry run) completed,',
    );
    expect(formatStatsForHumans({ ...stats, lastReconcile: null })).not.toContain('Last reconcile');
  });

  it('adds the phase and the last switch once a switch was recorded', () => {
    const counts = (values: number[]) =>
      Object.fromEntries(cosmosTypeNames.map((type, index) => [type, values[index]])) as MigrationStats['cosmos'];
    const stats: MigrationStats = {
      cosmos: counts([0, 0, 0, 0, 0, 0, 0]),
      postgres: counts([0, 0, 0, 0, 0, 0, 0]),
      quarantined: 0,
      progress: counts([100, 100, 100, 100, 100, 100, 100]),
      quarantinedByType: { ...counts([0, 0, 0, 0, 0, 0, 0]), other: 0 },
      quarantinedByReason: {},
      quarantineSettled: { resolved: 0, closed: 0 },
      pendingSync: { count: 0, oldestCreatedAt: null, oldestAgeSeconds: null, nextAttempt: null },
      lastRun: null,
      lastReconcile: null,
      phase: 'postgresql-primary',
      lastSwitch: {
        id: 'switch-1',
        target: 'postgresql',
        state: 'completed',
        startedAt: '2026-12-08T08:00:00.000Z',
        finishedAt: '2026-12-08T08:00:12.500Z',
        pauseMs: 2350,
        error: null,
      },
    };
    expect(formatStatsForHumans(stats)).toMatch(
      /\nPrimary: postgresql-primary \(recorded by migrate:switch\)\nLast switch: to postgresql, completed, started 2026-12-08T08:00:00.000Z, finished 2026-12-08T08:00:12.500Z, writes held 2,350 ms$/,
    );
    expect(formatStatsForHumans({ ...stats, phase: null, lastSwitch: null })).not.toMatch(/Primary:|Last switch/);
  });
});

describe('progressPercent', () => {
  it('gives one decimal rounded down, so 100.0 means every document', () => {
    expect(progressPercent(2, 3)).toBe(66.6);
    expect(progressPercent(1, 3)).toBe(33.3);
    expect(progressPercent(9_999, 10_000)).toBe(99.9);
    expect(progressPercent(10_000, 10_000)).toBe(100);
    expect(progressPercent(0, 7)).toBe(0);
  });

  it('is at most 100, and 100 when there is nothing to do', () => {
    expect(progressPercent(5, 4)).toBe(100);
    expect(progressPercent(0, 0)).toBe(100);
  });
});
