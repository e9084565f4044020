import { randomBytes } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseRecord } from '../../dev/cosmos-double/index.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { migrateUser } from '../../shared/migration/migrate-user.js';
import { readBudgetName } from '../../shared/migration/read-budget.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * A per-user run reads one partition in a page or two. The shared request-unit budget used to let such a run
 * through at any rate: a reader books a request's real charge only once it is answered, as a debt its NEXT
 * request pays off, and a run whose last request was its first ended with its whole charge unpaid, in no
 * bucket at all (`migrate:user --max-ru 0.001` took 6 s). A run now settles what it spent before it ends.
 *
 * Lower bounds on time only: a slow machine makes a run longer, never shorter.
 */

let cosmos: CosmosTestServer;
let container: Container;
let db: TestDatabase;
let ctx: AppContext;
const responses: ResponseRecord[] = [];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startCosmosServer({ onResponse: (record) => responses.push(record) }), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  ctx = { prisma: db.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true' }) };
});
afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
});

/** A user with `count` notification logs of about half a kilobyte each: one page of a per-user read. */
async function userWithLogs(count: number): Promise<string> {
  const pubkey = randomBytes(32).toString('hex');
  for (let index = 0; index < count; index += 1) {
    await container.items.create({
      id: `log-${pubkey.slice(0, 8)}-${index}`,
      type: 'notification-log',
      pubkey,
      title: 'title',
      body: 'x'.repeat(400),
      created: 1_700_000_000_000 + index,
    });
  }
  return pubkey;
}

/** What the double charged for the container's queries since response `since`. */
function queryCharges(since: number): number {
  return responses
    .slice(since)
    .filter((record) => record.containerId === container.id && record.operation === 'query')
    .reduce((total, record) => total + record.requestCharge, 0);
}

describe('a per-user run under the shared request-unit budget', () => {
  it('takes at least as long as the budget allows for what its reads were charged, and books it in the shared bucket', async () => {
    const perSecond = 4;
    const pubkey = await userWithLogs(40);
    const since = responses.length;
    const started = Date.now();
    const progress = await migrateUser(ctx, pubkey, { maxRequestUnitsPerSecond: perSecond, batchSize: 100 });
    const elapsedSeconds = (Date.now() - started) / 1000;
    expect(progress).toMatchObject({ done: true, processed: 40, written: 40 });
    const charged = queryCharges(since);
    // One page of 40 documents: well over the one second's worth the bucket starts with.
    expect(charged).toBeGreaterThan(3 * perSecond);
    expect(progress.requestUnits).toBeCloseTo(charged, 6);
    // The bucket starts full (one second of the budget); everything beyond it is paid for in time.
    expect(elapsedSeconds).toBeGreaterThanOrEqual((charged - perSecond) / perSecond - 0.05);

    // The charge is in the shared bucket, which every process reads: right after the run it holds at most
    // what the refill gave back since the debt was paid, not a full second's worth.
    const { rows } = await db.pool.query<{ tokens: number }>('SELECT tokens FROM request_unit_budgets WHERE name = $1', [readBudgetName]);
    expect(rows[0]?.tokens).toBeLessThan(perSecond * 0.5);
  }, 60_000);
});
