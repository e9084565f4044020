import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/env.js';
import { listFeedRanges, rangeKey } from '../../shared/cosmos/feed-ranges.js';
import { loadPositions } from '../../shared/migration/change-feed-positions.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { loadSource, sourceDocuments, unaccounted } from './fixtures/migration-source.js';
import { snapshotTables } from './fixtures/migration-tables.js';

/**
 * The full load on the change feed, killed with SIGKILL at three random points, with one of the four
 * physical partitions split under it and 429s injected while it runs, then resumed: it must end exactly
 * where an uninterrupted run ends, with every document counted once.
 */

const child = fileURLToPath(new URL('./fixtures/migration-child.ts', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const batchSize = 40;

let cosmos: CosmosTestServer;
let container: Container;
let clean: TestDatabase;
let killed: TestDatabase;
let source: Array<Record<string, unknown>>;

beforeAll(async () => {
  [cosmos, clean, killed] = await Promise.all([startCosmosServer(), createTestDatabase(), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  // About 950 documents over 4 ranges: some 28 pages of 40, so each start below is killed with pages to go.
  source = await loadSource(container, sourceDocuments(90, 41));
});
afterAll(async () => {
  await Promise.all([clean?.drop(), killed?.drop(), cosmos?.stop()]);
});

interface ChildRun {
  /** Progress lines the child printed (one per committed page) before it ended. */
  pages: number;
  finished: boolean;
  signal: NodeJS.Signals | null;
}

interface ChildOptions {
  /** SIGKILL this many milliseconds after the child reports its `killAfterPages`-th committed page. */
  killAfterPages?: number;
  delayMs?: number;
  /** Called once when the child reports its `atPage`-th committed page (while it keeps reading). */
  atPage?: number;
  onPage?: () => void;
}

/** Runs the migration in a child process against `killed`, resuming the latest unfinished full load. */
function runChild(options: ChildOptions = {}): Promise<ChildRun> {
  const ca = cosmos.agent.options.ca;
  const process_ = spawn(process.execPath, ['--import', 'tsx', child], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: killed.url,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_CA_PEM: String(ca),
      COSMOS_DATABASE: container.database.id,
      COSMOS_CONTAINER: container.id,
      BATCH_SIZE: String(batchSize),
    },
  });
  let stderr = '';
  process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const run: ChildRun = { pages: 0, finished: false, signal: null };
  createInterface({ input: process_.stdout }).on('line', (line) => {
    if (line.startsWith('{"finished"')) run.finished = true;
    else run.pages += 1;
    if (run.pages === options.atPage) options.onPage?.();
    if (run.pages === options.killAfterPages) setTimeout(() => process_.kill('SIGKILL'), options.delayMs ?? 0);
  });
  return new Promise((resolve, reject) => {
    process_.on('error', reject);
    process_.on('exit', (code, signal) => {
      run.signal = signal;
      if (signal === null && code !== 0) reject(new Error(`migration child failed (${code}): ${stderr}`));
      else resolve(run);
    });
  });
}

const pick = (from: number, to: number) => from + Math.floor(Math.random() * (to - from + 1));

describe('a full load killed with SIGKILL, split under and throttled, then started again', () => {
  it('ends in exactly the state of an uninterrupted run, every document counted once', { timeout: 180_000 }, async () => {
    const ranges = (await listFeedRanges(container)).map(rangeKey);
    expect(ranges).toHaveLength(4);
    const uninterrupted = await migrateAll(
      { prisma: clean.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true' }) },
      { batchSize },
    );
    expect(uninterrupted.processed).toBe(source.length);

    // Three random points: a number of committed pages into each start (each start has well over six to go), then a few ms.
    const points = [0, 1, 2].map(() => ({ pages: pick(1, 6), delayMs: pick(0, 15) }));
    const kills: ChildRun[] = [];
    kills.push(await runChild({ killAfterPages: points[0]!.pages, delayMs: points[0]!.delayMs }));

    // The second start meets throttling from its first reads, and one partition splits while it reads.
    const throttle = cosmos.throttle({
      times: 12,
      when: (request) => request.operation === 'changeFeed' && request.containerId === container.id,
    });
    const busiest = [...cosmos.ranges(container.database.id, container.id)].sort((a, b) => b.documentCount - a.documentCount)[0]!;
    let split = false;
    kills.push(
      await runChild({
        atPage: 1,
        onPage: () => {
          cosmos.split(container.database.id, container.id, busiest.id);
          split = true;
        },
        killAfterPages: points[1]!.pages + 1,
        delayMs: points[1]!.delayMs,
      }),
    );
    expect(split).toBe(true);
    expect(throttle.remaining).toBe(0);
    kills.push(await runChild({ killAfterPages: points[2]!.pages, delayMs: points[2]!.delayMs }));
    for (const run of kills) expect(run, JSON.stringify(points)).toMatchObject({ signal: 'SIGKILL', finished: false });

    // The last start is throttled too, and runs to the end.
    const lastThrottle = cosmos.throttle({
      times: 12,
      when: (request) => request.operation === 'changeFeed' && request.containerId === container.id,
    });
    const last = await runChild();
    expect(last.finished).toBe(true);
    expect(lastThrottle.remaining).toBe(0);

    expect(await snapshotTables(killed.pool)).toEqual(await snapshotTables(clean.pool));
    expect(await unaccounted(killed.pool, source)).toEqual({ missing: [], extra: 0 });
    // Every start continued the same run; its checkpoints committed with their pages, so it counted each document once.
    const { rows } = await killed.pool.query(
      'SELECT state, processed::int, written::int, quarantined::int, failed::int, throttled::int FROM migration_runs',
    );
    expect(rows).toEqual([
      {
        state: 'completed',
        processed: source.length,
        written: uninterrupted.written,
        quarantined: uninterrupted.quarantined,
        failed: 0,
        throttled: expect.any(Number) as number,
      },
    ]);
    // The 429s the last start met are all counted (those of killed starts are counted with the pages they committed).
    expect((rows[0] as { throttled: number }).throttled).toBeGreaterThanOrEqual(12);
    // The run's parts are the four ranges it started with; the split range was followed into its children.
    expect(cosmos.ranges(container.database.id, container.id)).toHaveLength(5);
    expect((await loadPositions(killed.prisma)).map((position) => position.rangeKey)).toEqual(ranges);
  });
});
