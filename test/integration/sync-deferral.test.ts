import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createPrismaClient, defaultPostgresTimeouts, type PrismaClient } from '../../shared/postgres/prisma-client.js';
import { type DocumentsMessage, maxMessageBytes, migrationMessageSchema, queueMessageBytes } from '../../shared/storage-queue/messages.js';
import { type Doc, payment } from '../support/document-shapes.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * The sync's last attempt with PostgreSQL down (issue 9, "deferral that cannot lose"): whatever the batch
 * holds, every change goes on the queue, in messages the queue accepts, or the invocation fails with nothing
 * sent; and once PostgreSQL is back, draining the queue writes every good document and quarantines every bad
 * one. The trigger cannot run here, so each batch is what it would hand over: documents read back through
 * the SDK, system properties included (or, for items Cosmos cannot be asked for again, the items themselves).
 */

let app: FunctionAppEnvironment;
let refusing: PrismaClient;
let refusingUrl: string;

beforeAll(async () => {
  app = await startFunctionAppEnvironment();
  // A port nothing listens on: every connection is refused, a real failure of the driver.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  refusingUrl = `postgresql://postgres@127.0.0.1:${port}/nostria`;
  // No retry window: each call fails at once, as one would once the window (a minute by default) ran out.
  refusing = createPrismaClient(refusingUrl, 1, undefined, { ...defaultPostgresTimeouts, retryWindowMs: 0 });
});
afterAll(async () => {
  await refusing?.$disconnect();
  await app?.stop();
});
beforeEach(async () => {
  await app.queues.main.clearMessages();
});

const pubkeyOf = () => randomBytes(32).toString('hex');

/** Writes a document to Cosmos and returns it as the trigger would deliver it, system properties and all. */
async function write(document: Doc): Promise<Doc> {
  const { resource } = await app.container.items.upsert(document);
  return resource as Doc;
}

/** An item as the trigger would hand it over for a document Cosmos cannot be asked for by id again. */
function delivered(document: Doc): Doc {
  return { ...document, _rid: 'abc', _self: 'dbs/x/colls/y/docs/z', _etag: '"0"', _attachments: 'attachments/', _ts: 1_700_000_000 };
}

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < levels; level += 1) value = { a: value };
  return value;
}

interface Shape {
  name: string;
  /** The item the trigger delivers, and the document ids that end in their table, or in the quarantine. */
  make(pubkey: string): Promise<{ item: unknown; written?: string; quarantinedId?: string; quarantined?: number }>;
}

/** The documents issue 9 lists, each something Cosmos (or its change feed) can deliver. */
const shapes: Shape[] = [
  {
    name: 'an id of 1,023 bytes (the most Cosmos allows)',
    make: async (pubkey) => {
      const prefix = `payment-${randomBytes(4).toString('hex')}-`;
      const id = `${prefix}${'9'.repeat(1023 - prefix.length)}`;
      return { item: await write(payment(pubkey, id)), written: id };
    },
  },
  {
    name: 'a lone UTF-16 surrogate in a value',
    make: async (pubkey) => {
      const id = `payment-${randomBytes(6).toString('hex')}`;
      return { item: await write({ ...payment(pubkey, id), lnInvoice: 'lnbc\uD800' }), quarantinedId: id };
    },
  },
  {
    name: 'JSON nested 2,000 levels deep',
    make: async (pubkey) => {
      const id = `notification-settings-${pubkey}`;
      const item = await write({ id, pubkey, type: 'notification-settings', enabled: true, created: 1, settings: nested(2000) });
      return { item, quarantinedId: id };
    },
  },
  {
    name: 'an unknown type of 3,000 characters',
    make: async (pubkey) => {
      const id = `odd-${randomBytes(6).toString('hex')}`;
      return { item: await write({ id, pubkey, type: 't'.repeat(3000) }), quarantinedId: id };
    },
  },
  {
    name: 'U+0000 inside the id (delivered whole: no point read can name it)',
    make: (pubkey) => Promise.resolve({ item: delivered(payment(pubkey, 'payment-\u0000-nul')), quarantined: 1 }),
  },
  {
    name: 'a lone surrogate inside the id (delivered whole)',
    make: (pubkey) => Promise.resolve({ item: delivered(payment(pubkey, 'payment-\uDC00-lone')), quarantined: 1 }),
  },
  {
    name: 'an item that names no document',
    make: (pubkey) => Promise.resolve({ item: { pubkey, type: 'payment', note: 'no id at all' }, quarantined: 1 }),
  },
];

async function sync(items: unknown[], lastAttempt: boolean): Promise<void> {
  const retryContext = { retryCount: lastAttempt ? 5 : 0, maxRetryCount: 5 };
  await app.registration('cosmosSync').callback(items, app.context('cosmosSync', { retryContext }));
}

async function queuedTexts(): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await app.queues.main.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 300 });
    if (receivedMessageItems.length === 0) return texts;
    texts.push(...receivedMessageItems.map((item) => item.messageText));
  }
}

/** Defers `items` on the sync's last attempt with PostgreSQL down; returns the messages, then makes them visible again. */
async function deferWhileDown(items: unknown[]): Promise<DocumentsMessage[]> {
  app.useServices({ config: { databaseUrl: refusingUrl }, prisma: refusing });
  try {
    await expect(sync(items, false)).rejects.toThrow();
    expect(await queuedTexts()).toEqual([]);
    await sync(items, true);
  } finally {
    app.restoreServices();
  }
  const texts = await queuedTexts();
  // Put back what was taken off to look at it, so the queue function drains exactly what the sync sent.
  await app.queues.main.clearMessages();
  for (const text of texts) await app.queues.main.sendMessage(text);
  for (const text of texts) expect(queueMessageBytes(text)).toBeLessThanOrEqual(maxMessageBytes);
  return texts.map((text) => migrationMessageSchema.parse(JSON.parse(text)) as DocumentsMessage);
}

async function quarantinedWith(pubkey: string): Promise<number> {
  const { rows } = await app.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM quarantine WHERE pubkey = $1 OR document::text LIKE '%' || $1 || '%'`,
    [pubkey],
  );
  return rows[0]?.n ?? 0;
}

describe.each(shapes)('a batch holding $name', (shape) => {
  test('alone: deferred whole, then applied or quarantined once PostgreSQL is back', async () => {
    const pubkey = pubkeyOf();
    const { item, written, quarantinedId, quarantined } = await shape.make(pubkey);
    const messages = await deferWhileDown([item]);
    expect(messages.flatMap((message) => message.documents)).toHaveLength(1);
    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    if (written) expect(await app.db.prisma.payment.count({ where: { id: written } })).toBe(1);
    if (quarantinedId) expect(await app.db.prisma.quarantinedDocument.count({ where: { documentId: quarantinedId } })).toBe(1);
    if (quarantined) expect(await quarantinedWith(pubkey)).toBe(quarantined);
  });

  test('among 60 good changes: every change is sent, the good ones are written, the bad one quarantined', async () => {
    const pubkey = pubkeyOf();
    const good = await Promise.all(Array.from({ length: 60 }, (_, n) => write(payment(pubkey, `payment-${pubkey.slice(0, 8)}-${n}`))));
    const bad = await shape.make(pubkey);
    const items = [...good.slice(0, 30), bad.item, ...good.slice(30)];
    const messages = await deferWhileDown(items);
    expect(messages.flatMap((message) => message.documents)).toHaveLength(61);
    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    const ids = good.map((document) => document.id as string);
    expect(await app.db.prisma.payment.count({ where: { id: { in: ids } } })).toBe(60);
    const expectedQuarantine = bad.quarantinedId || bad.quarantined ? 1 : 0;
    expect(await quarantinedWith(pubkey)).toBe(expectedQuarantine);
  });
});

test('151 changes with ids of 1,000 bytes go out in as many messages as the 64 KiB limit needs, none lost', async () => {
  const pubkey = pubkeyOf();
  const documents = await Promise.all(
    Array.from({ length: 151 }, (_, n) => write(payment(pubkey, `payment-${String(n).padStart(4, '0')}-${'x'.repeat(985)}`))),
  );
  const messages = await deferWhileDown(documents);
  expect(messages.length).toBeGreaterThan(1);
  expect(messages.flatMap((message) => message.documents.map((entry) => ('id' in entry ? entry.id : undefined)))).toEqual(
    documents.map((document) => document.id),
  );
  expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
  expect(await app.db.prisma.payment.count({ where: { pubkey } })).toBe(151);
});

test('a change too large for any message fails the invocation before anything is sent', async () => {
  const pubkey = pubkeyOf();
  const good = await write(payment(pubkey, `payment-${pubkey.slice(0, 8)}-1`));
  // No id, so it can only travel whole; 100 KB of it cannot fit a queue message.
  const huge = { pubkey, type: 'payment', blob: 'z'.repeat(100_000) };
  app.useServices({ config: { databaseUrl: refusingUrl }, prisma: refusing });
  try {
    await expect(sync([good, huge], true)).rejects.toThrow(/more than a queue message holds/);
  } finally {
    app.restoreServices();
  }
  expect(await queuedTexts()).toEqual([]);
  expect(app.logs.some((log) => log.level === 'error' && /not applied: a deferred change needs \d+ bytes/.test(log.message))).toBe(true);
});
