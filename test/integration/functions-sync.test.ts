import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createCosmosRepositories } from '../../shared/cosmos/cosmos-repository.js';
import type { AccountDocument } from '../../shared/domain/document-types.js';
import { createPrismaClient, defaultPostgresTimeouts, type PrismaClient } from '../../shared/postgres/prisma-client.js';
import { createPrismaRepositories } from '../../shared/postgres/prisma-repository.js';
import { type DocumentsMessage, migrationMessageSchema } from '../../shared/storage-queue/messages.js';
import { telemetryPrefix } from '../../shared/telemetry/telemetry.js';
import { verifyUser } from '../../shared/verification/verify-user.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * The change-feed sync function, invoked for real. The trigger itself cannot run here (no change feed
 * on the Cosmos-protocol server, no Functions host), so each batch is what the trigger would hand over:
 * documents read back through the SDK, system properties (_rid, _self, _etag, _ts...) included.
 */

let app: FunctionAppEnvironment;

beforeAll(async () => {
  app = await startFunctionAppEnvironment();
});
afterAll(() => app?.stop());
// A message an earlier test left on the queue is not this test's.
beforeEach(() => app.queues.main.clearMessages());

const pubkeyOf = () => randomBytes(32).toString('hex');
type Doc = Record<string, unknown>;

function account(pubkey: string, version: number): Doc {
  return {
    id: `account-${pubkey}`,
    type: 'account',
    pubkey,
    username: `user-v${version}`,
    tier: 'premium',
    subscription: { tier: 'premium', entitlements: { notificationsPerDay: 50, features: ['backup'] } },
    created: 1_700_000_000_000,
    // The service bumps `modified` on every write; it orders versions written in the same second.
    modified: 1_700_000_000_000 + version,
  };
}

function payment(pubkey: string, n: number, paid: boolean): Doc {
  return {
    id: `payment-${pubkey.slice(0, 8)}-${n}`,
    type: 'payment',
    pubkey,
    paymentType: 'ln',
    lnHash: `hash-${n}`,
    lnInvoice: `lnbc${n}`,
    lnAmountSat: 21_000,
    tier: 'premium',
    billingCycle: 'monthly',
    priceCents: 999,
    isPaid: paid,
    expires: 1_700_000_900_000,
    created: 1_700_000_000_000,
    modified: 1_700_000_000_000 + (paid ? 1 : 0),
  };
}

/** Writes a version to Cosmos and returns it as Cosmos gives it back, system properties and all. */
async function write(document: Doc): Promise<Doc> {
  await app.container.items.upsert(document);
  const { resource } = await app.container.item(document.id as string, document.pubkey as string).read<Doc>();
  if (!resource) throw new Error(`could not read ${String(document.id)} back`);
  return resource;
}

async function sync(items: unknown[], retryContext?: { retryCount: number; maxRetryCount: number }): Promise<void> {
  await app.registration('cosmosSync').callback(items, app.context('cosmosSync', { retryContext }));
}

async function accountRow(pubkey: string) {
  const { rows } = await app.db.pool.query<{ username: string; cosmosTs: string; cosmosEtag: string; modified: string }>(
    'SELECT "username", "cosmosTs", "cosmosEtag", "modified" FROM "accounts" WHERE "pubkey" = $1',
    [pubkey],
  );
  return rows[0];
}

async function consistent(pubkey: string): Promise<boolean> {
  const report = await verifyUser({ prisma: app.db.prisma, cosmos: app.container }, pubkey);
  return report.consistent;
}

async function queuedMessages(): Promise<string[]> {
  const { peekedMessageItems } = await app.queues.main.peekMessages({ numberOfMessages: 32 });
  return peekedMessageItems.map((item) => item.messageText);
}

describe('a batch of changes', () => {
  const pubkey = pubkeyOf();
  const versions: Doc[] = [];

  beforeAll(async () => {
    for (const version of [1, 2, 3]) versions.push(await write(account(pubkey, version)));
  });

  test('arrives with the system properties the trigger delivers', () => {
    for (const version of versions) {
      expect(version).toEqual(
        expect.objectContaining({
          _rid: expect.any(String),
          _self: expect.any(String),
          _etag: expect.any(String),
          _ts: expect.any(Number),
        }),
      );
    }
  });

  test('delivered in duplicate and out of order, ends at the newest version', async () => {
    const [v1, v2, v3] = versions;
    const logsBefore = app.logs.length;
    await sync([v2, v1]);
    expect((await accountRow(pubkey))?.username).toBe('user-v2');
    await sync([v3, v1, v2, v3]);
    await sync([v1]);
    await sync([v2, v2]);
    const row = await accountRow(pubkey);
    expect(row?.username).toBe('user-v3');
    expect(Number(row?.cosmosTs)).toBe(v3?._ts);
    expect(row?.cosmosEtag).toBe(v3?._etag);
    expect(await consistent(pubkey)).toBe(true);
    const logs = app.logs.slice(logsBefore);
    expect(logs.some((log) => log.level === 'information' && /synced 4 change\(s\): \d+ written/.test(log.message))).toBe(true);
  });

  test('sends a document that cannot be mapped to the quarantine and writes the rest of the batch', async () => {
    const other = pubkeyOf();
    const good = await write(payment(other, 1, true));
    const bad = await write({ ...account(other, 1), tier: 'platinum' });
    await sync([bad, good]);
    const { rows } = await app.db.pool.query<{ reason: string; source: string }>(
      'SELECT "reason", "source" FROM "quarantine" WHERE "documentId" = $1',
      [bad.id],
    );
    expect(rows).toEqual([{ reason: expect.stringContaining('tier'), source: 'sync' }]);
    expect(await app.db.prisma.payment.count({ where: { pubkey: other } })).toBe(1);
  });

  test('reports what it wrote and quarantined, and the lag of its oldest change, in one telemetry line', async () => {
    const own = pubkeyOf();
    const batch = [
      await write(payment(own, 1, true)),
      await write({ ...account(pubkeyOf(), 1), tier: 'platinum' }),
      await write(account(own, 1)),
    ];
    const oldest = Math.min(...batch.map((document) => document._ts as number));
    const logsBefore = app.logs.length;
    const before = Date.now();
    await sync(batch);
    const after = Date.now();
    const lines = app.logs
      .slice(logsBefore)
      .filter((log) => log.message.startsWith(telemetryPrefix))
      .map((log) => JSON.parse(log.message.slice(telemetryPrefix.length)) as { metrics: Record<string, number> });
    expect(lines).toEqual([
      {
        event: 'sync.batch',
        documents: 3,
        metrics: {
          'nostria.documents.written': 2,
          'nostria.documents.quarantined': 1,
          'nostria.sync.lag_seconds': expect.any(Number),
        },
      },
    ]);
    // The lag is taken once the batch is written: between what it was when the call began and when it ended.
    const lag = lines[0]?.metrics['nostria.sync.lag_seconds'];
    expect(lag).toBeGreaterThanOrEqual(before / 1000 - oldest);
    expect(lag).toBeLessThanOrEqual(after / 1000 - oldest);
  });

  test("runs while PostgreSQL is primary: a genuine Cosmos write is applied, the mirror's own copy only confirms its row", async () => {
    const own = pubkeyOf();
    await sync([await write(account(own, 1))]);
    const v2 = await write(account(own, 2));
    app.useServices({ config: { usePostgres: true, dualDatabaseMode: true } });
    try {
      // A write to Cosmos by a writer that has not switched yet: not an echo, so it reaches PostgreSQL.
      await sync([v2]);
      expect((await accountRow(own))?.username).toBe('user-v2');
      // The service writes v3 in PostgreSQL, and the mirror copies it to Cosmos with its mark.
      const v3 = await createPrismaRepositories(app.db.prisma).account.upsert(account(own, 3) as AccountDocument);
      await createCosmosRepositories(app.container, { markAsMirrorCopies: true }).account.upsert(v3);
      const echo = (await app.container.item(`account-${own}`, own).read<Doc>()).resource as Doc;
      // The service writes v4 before the echo of v3 comes back: the echo must not undo it.
      await createPrismaRepositories(app.db.prisma).account.upsert(account(own, 4) as AccountDocument);
      await sync([v2, echo]);
      expect((await accountRow(own))?.username).toBe('user-v4');
      expect(app.logs.some((log) => /1 mirror echo\(es\) \(0 confirmed\)/.test(log.message))).toBe(true);
    } finally {
      app.restoreServices();
    }
  });
});

test('the backlog timer reports the quarantine and pending_sync sizes as they change', async () => {
  const sizes = async () => {
    const logsBefore = app.logs.length;
    await app.registration('backlogTelemetry').callback({ isPastDue: false }, app.context('backlogTelemetry'));
    const lines = app.logs
      .slice(logsBefore)
      .filter((log) => log.message.startsWith(telemetryPrefix))
      .map((log) => JSON.parse(log.message.slice(telemetryPrefix.length)) as { event: string; metrics: Record<string, number> });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.event).toBe('backlog');
    return lines[0]?.metrics ?? {};
  };
  const before = await sizes();
  // One more document in the quarantine, two mirror writes waiting for Cosmos.
  await sync([await write({ ...account(pubkeyOf(), 1), tier: 'platinum' })]);
  for (const pubkey of [pubkeyOf(), pubkeyOf()]) {
    await app.db.pool.query('INSERT INTO "pending_sync" ("target", "documentType", "pubkey", "documentId") VALUES ($1, $2, $3, $4)', [
      'cosmos',
      'account',
      pubkey,
      `account-${pubkey}`,
    ]);
  }
  const after = await sizes();
  expect(after['nostria.quarantine.size']).toBe((before['nostria.quarantine.size'] ?? Number.NaN) + 1);
  expect(after['nostria.pending_sync.size']).toBe((before['nostria.pending_sync.size'] ?? Number.NaN) + 2);
  await app.db.pool.query('DELETE FROM "pending_sync" WHERE "target" = $1', ['cosmos']);
});

describe('PostgreSQL down for a batch', () => {
  const pubkey = pubkeyOf();
  let refusing: PrismaClient;
  let refusingUrl: string;

  beforeAll(async () => {
    // A port nothing listens on: every connection is refused, a real failure of the driver.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    refusingUrl = `postgresql://postgres@127.0.0.1:${port}/nostria`;
    // No retry window: each call fails at once, as one would once the window (a minute by default) ran out.
    refusing = createPrismaClient(refusingUrl, 1, undefined, { ...defaultPostgresTimeouts, retryWindowMs: 0 });
  });
  afterAll(() => refusing?.$disconnect());

  test('loses nothing: retried while the runtime will retry, then queued for resync and applied from the current state', async () => {
    // Before the outage PostgreSQL holds account v1 and a payment that will be deleted during it.
    const kept = await write(payment(pubkey, 1, false));
    const doomed = await write(payment(pubkey, 2, false));
    await sync([await write(account(pubkey, 1)), kept, doomed]);
    expect(await consistent(pubkey)).toBe(true);

    const batch = [await write(account(pubkey, 2)), await write(payment(pubkey, 1, true)), await write(payment(pubkey, 3, false))];
    const logsBefore = app.logs.length;
    app.useServices({ config: { databaseUrl: refusingUrl }, prisma: refusing });
    try {
      // Not the last attempt: the error is thrown so the runtime retries the batch, nothing is queued.
      await expect(sync(batch, { retryCount: 0, maxRetryCount: 5 })).rejects.toThrow(/ECONNREFUSED/);
      expect(await queuedMessages()).toEqual([]);
      // The last attempt: the batch goes to the resync queue and the invocation succeeds (the
      // trigger's checkpoint moves on either way; now nothing depends on it).
      await sync(batch, { retryCount: 5, maxRetryCount: 5 });
    } finally {
      app.restoreServices();
    }

    const queued = (await queuedMessages()).map((text) => migrationMessageSchema.parse(JSON.parse(text)));
    expect(queued).toHaveLength(1);
    const message = queued[0] as DocumentsMessage;
    expect(message.kind).toBe('documents');
    expect(message.documents).toEqual(
      batch.map((document) => ({ id: document.id, partitionKey: pubkey, type: document.type, ts: document._ts })),
    );
    expect(message.reason).toMatch(/^sync could not write: .*ECONNREFUSED/);
    const warnings = app.logs.slice(logsBefore).filter((log) => log.level === 'warning');
    expect(warnings.some((log) => /sent for resync in 1 queue message/.test(log.message))).toBe(true);

    // While the message waits: the account changes again and a payment is deleted in Cosmos.
    await write(account(pubkey, 3));
    await app.container.item(doomed.id as string, pubkey).delete();

    // PostgreSQL is back; the queue function drains the resync.
    const drained = await app.drain();
    expect(drained).toMatchObject({ completed: 1, failures: 0, poisoned: 0 });
    expect((await accountRow(pubkey))?.username).toBe('user-v3');
    expect(await app.db.prisma.payment.findMany({ where: { pubkey }, select: { id: true, isPaid: true }, orderBy: { id: 'asc' } })).toEqual(
      [
        { id: kept.id, isPaid: true },
        { id: doomed.id, isPaid: false },
        { id: `payment-${pubkey.slice(0, 8)}-3`, isPaid: false },
      ],
    );
    // The doomed payment was not in the failed batch, so it is still in PostgreSQL: latest-version mode
    // cannot see deletes (verification reports it as missing in Cosmos).
    const report = await verifyUser({ prisma: app.db.prisma, cosmos: app.container }, pubkey);
    expect(report.differences).toEqual([expect.objectContaining({ id: doomed.id, kind: 'missing-in-cosmos' })]);
  });

  test('a resync removes a row whose document is gone from Cosmos, if the row is not newer than what the sync saw', async () => {
    const gone = await write(payment(pubkey, 9, false));
    await sync([gone]);
    await app.container.item(gone.id as string, pubkey).delete();
    await app.queues.main.sendMessage(
      JSON.stringify({ kind: 'documents', documents: [{ id: gone.id, pubkey, type: 'payment', ts: gone._ts }] }),
    );
    expect(await app.drain()).toMatchObject({ completed: 1, failures: 0 });
    expect(await app.db.prisma.payment.count({ where: { id: gone.id as string } })).toBe(0);
  });

  test('if even the enqueue fails on the last attempt, the invocation fails', async () => {
    // A queue endpoint that refuses every request, as a storage account with the wrong role would.
    const refusingQueue: Server = createServer((_request, response) => {
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end('<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code><Message>refused</Message></Error>');
    });
    await new Promise<void>((resolve) => refusingQueue.listen(0, '127.0.0.1', resolve));
    const { port } = refusingQueue.address() as AddressInfo;
    const connectionString = app.azurite.connectionString.replace(
      /QueueEndpoint=[^;]+/,
      `QueueEndpoint=http://127.0.0.1:${port}/devstoreaccount1`,
    );
    const queue = { ...app.config.queue!, auth: { kind: 'connectionString' as const, connectionString } };
    app.useServices({ config: { databaseUrl: refusingUrl, queue }, prisma: refusing });
    try {
      await expect(sync([await write(account(pubkey, 10))], { retryCount: 5, maxRetryCount: 5 })).rejects.toThrow();
    } finally {
      app.restoreServices();
      refusingQueue.closeAllConnections();
      await new Promise<void>((resolve) => refusingQueue.close(() => resolve()));
    }
  });
});
