import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseRecord } from '../../dev/cosmos-double/index.js';
import { loadConfig } from '../../shared/config/env.js';
import type { Clock } from '../../shared/core/clock.js';
import { readChangeFeedPage } from '../../shared/cosmos/change-feed-reader.js';
import { readDocumentPages } from '../../shared/cosmos/document-source.js';
import { type FeedRangeBounds, listFeedRanges } from '../../shared/cosmos/feed-ranges.js';
import { localRequestUnits, RequestUnitBudget } from '../../shared/cosmos/throttling.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { takeRequestUnits } from '../../shared/postgres/request-unit-budgets.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { loadSource, sourceDocuments } from './fixtures/migration-source.js';

/**
 * Throttling and request-unit control against the real SDK, on the Cosmos double: its `throttle` rule
 * answers the next matching requests with a real 429 (`x-ms-retry-after-ms`, substatus 3200), which the
 * SDK retries on its own up to 9 times; what outlasts that reaches our readers. `onResponse` shows every
 * request the SDK sent, with its charge and headers.
 */

const retryAfterMs = 40;
let cosmos: CosmosTestServer;
let container: Container;
let db: TestDatabase;
let accounts: number;
let source: Array<Record<string, unknown>>;
let ranges: FeedRangeBounds[];
const responses: ResponseRecord[] = [];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startCosmosServer({ onResponse: (record) => responses.push(record) }), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  source = await loadSource(container, sourceDocuments(40, 51));
  accounts = source.filter((document) => document.type === 'account').length;
  ranges = await listFeedRanges(container);
});
afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
});

const ofContainer = (record: { containerId?: string }) => record.containerId === container.id;

async function readAllPages(options: Parameters<typeof readDocumentPages>[2]): Promise<{ documents: number; throttled: number }> {
  let documents = 0;
  let throttled = 0;
  for await (const page of readDocumentPages(container, { type: 'account' }, options)) {
    documents += page.documents.length;
    throttled += page.throttled;
  }
  return { documents, throttled };
}

describe('reading under Cosmos throttling', () => {
  it('a query waits at least the retry-after once the SDK gives up, reads every page, and counts every 429', async () => {
    // 12 in a row: the SDK's own 10 tries meet 10 of them, ours meet the other 2.
    const throttle = cosmos.throttle({ times: 12, retryAfterMs, when: (request) => request.operation === 'query' && ofContainer(request) });
    const waits: number[] = [];
    const read = await readAllPages({ batchSize: 7, onThrottle: ({ waitMs }) => waits.push(waitMs) });
    expect(throttle.remaining).toBe(0);
    expect(read).toEqual({ documents: accounts, throttled: 12 });
    expect(waits).toHaveLength(1);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(retryAfterMs);
  });

  it('a change-feed read does the same, and its page is the one it would have been', async () => {
    const [range] = ranges as [FeedRangeBounds];
    const unthrottled = await readChangeFeedPage(container, range, { from: 'beginning' }, { maxItemCount: 50, mode: 'LatestVersion' });
    const throttle = cosmos.throttle({
      times: 13,
      retryAfterMs,
      when: (request) => request.operation === 'changeFeed' && ofContainer(request),
    });
    const waits: number[] = [];
    const page = await readChangeFeedPage(
      container,
      range,
      { from: 'beginning' },
      { maxItemCount: 50, mode: 'LatestVersion', onThrottle: ({ waitMs }) => waits.push(waitMs) },
    );
    expect(throttle.remaining).toBe(0);
    expect(page.throttled).toBe(13);
    expect(waits.every((wait) => wait >= retryAfterMs)).toBe(true);
    expect(page.items).toEqual(unthrottled.items);
    expect(page.continuation).toBe(unthrottled.continuation);
  });

  it('gives up with the 429 after the configured attempts', async () => {
    const throttle = cosmos.throttle({
      times: 40,
      retryAfterMs: 1,
      when: (request) => request.operation === 'query' && ofContainer(request),
    });
    try {
      await expect(readAllPages({ batchSize: 7, throttleAttempts: 2 })).rejects.toMatchObject({ code: 429 });
    } finally {
      throttle.cancel();
    }
  });

  it('a run counts the request units and the 429s of its reads, with every page committed once', async () => {
    const throttle = cosmos.throttle({
      times: 11,
      retryAfterMs,
      when: (request) => request.operation === 'changeFeed' && ofContainer(request),
    });
    const since = responses.length;
    const progress = await migrateAll(
      { prisma: db.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true' }) },
      { batchSize: 60 },
    );
    expect(throttle.remaining).toBe(0);
    expect(progress).toMatchObject({ processed: source.length, throttled: 11 });
    const feed = responses.slice(since).filter((record) => record.operation === 'changeFeed' && ofContainer(record));
    // What the run books is what the double charged its change-feed reads.
    expect(progress.requestUnits).toBeCloseTo(
      feed.reduce((total, record) => total + record.requestCharge, 0),
      6,
    );
    const { rows } = await db.pool.query<{ requestUnits: number; throttled: number }>(
      'SELECT "requestUnits", throttled::int FROM migration_runs WHERE id = $1',
      [progress.runId],
    );
    expect(rows).toEqual([{ requestUnits: expect.closeTo(progress.requestUnits, 6) as number, throttled: 11 }]);
  });

  it('sends every read at Low priority when COSMOSDB_PRIORITY_LEVEL=Low', async () => {
    const config = loadConfig({
      MIGRATION_MODE: 'true',
      AZURE_COSMOSDB_CONNECTION_STRING: cosmos.connectionString,
      COSMOSDB_PRIORITY_LEVEL: 'Low',
    });
    const since = responses.length;
    await migrateAll({ prisma: db.prisma, cosmos: container, config }, { batchSize: 200, dryRun: true });
    const feed = responses.slice(since).filter((record) => record.operation === 'changeFeed' && ofContainer(record));
    expect(feed.length).toBeGreaterThanOrEqual(ranges.length);
    expect(new Set(feed.map((record) => record.priorityLevel))).toEqual(new Set(['Low']));
    const before = responses.length;
    await readAllPages({ batchSize: 50, priorityLevel: 'Low' });
    const queries = responses.slice(before).filter((record) => record.operation === 'query' && ofContainer(record));
    expect(new Set(queries.map((record) => record.priorityLevel))).toEqual(new Set(['Low']));
  });
});

describe('a request-unit budget', () => {
  /** A clock that only moves when something sleeps on it. */
  function virtualClock(): Clock & { sleeps: number[] } {
    let now = 0;
    const sleeps: number[] = [];
    return {
      sleeps,
      now: () => now,
      sleep: (ms) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    };
  }

  it('holds a reader to its rate, measured with each response’s charge', async () => {
    const clock = virtualClock();
    const perSecond = 20;
    const budget = new RequestUnitBudget(perSecond, localRequestUnits(perSecond, clock), clock);
    let pages = 0;
    let charge = 0;
    let largest = 0;
    for await (const page of readDocumentPages(container, { type: 'account' }, { batchSize: 9, budget, clock })) {
      pages += 1;
      charge += page.requestCharge;
      largest = Math.max(largest, page.requestCharge);
    }
    expect(pages).toBeGreaterThan(5);
    expect(charge).toBeGreaterThan(3 * perSecond);
    // A full bucket (one second's worth) is spent at once, and the last request is booked only after it was
    // sent: everything else is paid for in time, and never more than what was spent.
    const elapsedSeconds = clock.now() / 1000;
    expect(elapsedSeconds).toBeGreaterThanOrEqual((charge - perSecond - largest) / perSecond - 1e-9);
    expect(elapsedSeconds).toBeLessThanOrEqual(charge / perSecond);
  });

  it(
    'in PostgreSQL: the bucket starts full, a take beyond it is a debt the taker waits out, and it refills by the ' + 'database clock',
    async () => {
      const name = `test-${Date.now()}`;
      const take = (requested: number) => takeRequestUnits(db.prisma, name, { perSecond: 100, capacity: 100, requested });
      expect(await take(60)).toMatchObject({ tokens: expect.closeTo(40, 0) as number, waitMs: 0 });
      const inDebt = await take(90);
      // 40 left, 90 taken: about 50 short, which 100 RU/s refill in about half a second.
      expect(inDebt.tokens).toBeLessThan(-45);
      expect(inDebt.waitMs).toBeCloseTo((-inDebt.tokens / 100) * 1000, 6);
      const { rows } = await db.pool.query<{ refilled: boolean }>(
        `SELECT "refilledAt" <= clock_timestamp() AND "refilledAt" > clock_timestamp() - interval '1 minute' AS refilled
         FROM request_unit_budgets WHERE name = $1`,
        [name],
      );
      expect(rows).toEqual([{ refilled: true }]);
    },
  );
});
