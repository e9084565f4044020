import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { isTransientPostgresError } from '../../shared/postgres/postgres-errors.js';
import {
  createPrismaClient,
  defaultPostgresTimeouts,
  type PostgresTimeouts,
  type PrismaClient,
} from '../../shared/postgres/prisma-client.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { goodPayments, newMarker } from '../support/document-shapes.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * Issue 9, "Done means" 3: outages end cleanly. PostgreSQL is reached through a TCP proxy that can refuse,
 * reset or go silent, so each outage is a real one for the driver:
 * - unavailable for 20 seconds while pages are being written: every call rides it out (transient errors are
 *   retried for the client's window, a minute by default) and every page ends up written, once;
 * - a connection that goes silent (open, but nothing answers): the call fails with a transient error once the
 *   client's query deadline destroys the connection, instead of hanging; the next call gets a fresh
 *   connection and succeeds; with a retry window, the same call succeeds once the path is back.
 * Durations are printed for the record, never asserted: the test's own timeout is what bounds a hang.
 */

let db: TestDatabase;
let proxy: TcpProxy;
const clients: PrismaClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
});
afterEach(() => proxy.restore());
afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.$disconnect()));
  await proxy?.close();
  await db?.drop();
});

/** A client whose every connection goes through the proxy. */
function clientThroughProxy(timeouts: Partial<PostgresTimeouts> = {}): PrismaClient {
  const client = createPrismaClient(proxy.urlThrough(db.url), 2, undefined, { ...defaultPostgresTimeouts, ...timeouts });
  clients.push(client);
  return client;
}

async function paymentsOf(pubkey: string): Promise<number> {
  // Straight to the server, not through the proxy.
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM "payments" WHERE "pubkey" = $1', [pubkey]);
  return rows[0]?.n ?? 0;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The error `call` fails with (undefined if it succeeds), and how long it took to fail. */
async function failureOf(call: Promise<unknown>): Promise<{ failure: unknown; failedAfter: number }> {
  const started = Date.now();
  const failure = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  return { failure, failedAfter: Date.now() - started };
}

test('PostgreSQL unavailable for 20 s while pages are written: every call rides it out, every page is written', async () => {
  const prisma = clientThroughProxy();
  const marker = newMarker();
  const pubkey = marker.padEnd(64, '0');
  const documents = goodPayments(pubkey, marker, 300);
  const pages = Array.from({ length: 15 }, (_, n) => documents.slice(n * 20, n * 20 + 20));
  const outageAfterPage = 3;
  const durations: number[] = [];
  let outage: Promise<void> | undefined;
  for (const [index, page] of pages.entries()) {
    const started = Date.now();
    const call = applyDocuments(prisma, page, { source: 'migration' });
    if (index === outageAfterPage) {
      // Down while this call is in flight: its connection is reset, and nothing answers for 20 s.
      await proxy.refuse();
      outage = new Promise((resolve) => setTimeout(resolve, 20_000)).then(() => proxy.restore());
    }
    const result = await call;
    durations.push(Date.now() - started);
    expect(result.written).toBe(page.length);
  }
  await outage;
  expect(await paymentsOf(pubkey)).toBe(documents.length);
  console.log(
    `20 s outage: ${pages.length} pages written; the longest call took ${seconds(Math.max(...durations))}, ` +
      `the calls after the outage began took ${durations.slice(outageAfterPage).map(seconds).join(', ')}`,
  );
}, 120_000);

test('a connection that goes silent fails the call within the query deadline, and the next call succeeds', async () => {
  const prisma = clientThroughProxy({ queryTimeoutMs: 3_000, statementTimeoutMs: 2_000, connectTimeoutMs: 3_000, retryWindowMs: 0 });
  const marker = newMarker();
  const pubkey = marker.padEnd(64, '0');
  const [first, second] = [goodPayments(pubkey, `${marker}a`, 5), goodPayments(pubkey, `${marker}b`, 5)];
  // A warm pool: the next call runs on connections that were fine a moment ago.
  expect((await applyDocuments(prisma, first, { source: 'sync' })).written).toBe(5);
  proxy.silence();
  const { failure, failedAfter } = await failureOf(applyDocuments(prisma, second, { source: 'sync' }));
  expect(failure).toBeDefined();
  expect(isTransientPostgresError(failure)).toBe(true);
  await proxy.restore();
  // The silent connections were destroyed, not handed back: this call gets a fresh one.
  expect((await applyDocuments(prisma, second, { source: 'sync' })).written).toBe(5);
  expect(await paymentsOf(pubkey)).toBe(10);
  console.log(`silent connection: the call failed after ${seconds(failedAfter)} (query deadline 3 s)`);
}, 60_000);

test('a connection that goes silent in the middle of a COPY fails the call within the query deadline', async () => {
  const prisma = clientThroughProxy({ queryTimeoutMs: 3_000, statementTimeoutMs: 2_000, connectTimeoutMs: 3_000, retryWindowMs: 0 });
  const marker = newMarker();
  const pubkey = marker.padEnd(64, '0');
  // The page meets no existing row, so its rows go in with COPY; the path dies as the COPY statement is sent.
  proxy.silenceAt('COPY "payments"');
  const { failure, failedAfter } = await failureOf(applyDocuments(prisma, goodPayments(pubkey, `${marker}a`, 5), { source: 'sync' }));
  expect(failure).toBeDefined();
  expect(isTransientPostgresError(failure)).toBe(true);
  await proxy.restore();
  expect(await paymentsOf(pubkey)).toBe(0);
  expect((await applyDocuments(prisma, goodPayments(pubkey, `${marker}a`, 5), { source: 'sync' })).written).toBe(5);
  console.log(`silent in a COPY: the call failed after ${seconds(failedAfter)} (query deadline 3 s)`);
}, 60_000);

test('with a retry window, the call on a silent connection succeeds once the path is back', async () => {
  const prisma = clientThroughProxy({ queryTimeoutMs: 3_000, statementTimeoutMs: 2_000, connectTimeoutMs: 3_000, retryWindowMs: 60_000 });
  const marker = newMarker();
  const pubkey = marker.padEnd(64, '0');
  expect((await applyDocuments(prisma, goodPayments(pubkey, `${marker}a`, 5), { source: 'sync' })).written).toBe(5);
  proxy.silence();
  const back = new Promise((resolve) => setTimeout(resolve, 8_000)).then(() => proxy.restore());
  const started = Date.now();
  const result = await applyDocuments(prisma, goodPayments(pubkey, `${marker}b`, 5), { source: 'sync' });
  await back;
  expect(result.written).toBe(5);
  expect(await paymentsOf(pubkey)).toBe(10);
  console.log(`silent for 8 s with a retry window: the call succeeded after ${seconds(Date.now() - started)}`);
}, 60_000);
