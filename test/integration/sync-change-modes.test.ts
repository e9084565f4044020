import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { ChangeFeedUnreadableError } from '../../shared/core/errors.js';
import { type DocumentsMessage, migrationMessageSchema } from '../../shared/storage-queue/messages.js';
import { enqueueMigrationMessages } from '../../shared/storage-queue/send-messages.js';
import { syncChangeBatch } from '../../shared/sync/sync-change-batch.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * Issue 12's "Done means" for the sync in AllVersionsAndDeletes mode (the handler registered with
 * COSMOSDB_CHANGE_FEED_MODE=AllVersionsAndDeletes): one id created, replaced, deleted and created again ends
 * in the right state within one batch and across batches; a batch of plain documents (what the GA extension
 * bundle delivers whatever the mode says) loses nothing; and in either mode an item the sync cannot read is
 * held (the invocation throws) while the runtime retries, then deferred whole with every other item, and kept
 * in the quarantine. Items are built as the trigger delivers them, around documents read back through the SDK.
 */

type Doc = Record<string, unknown>;

let app: FunctionAppEnvironment;

beforeAll(async () => {
  vi.stubEnv('COSMOSDB_CHANGE_FEED_MODE', 'AllVersionsAndDeletes');
  app = await startFunctionAppEnvironment();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await app?.stop();
});
beforeEach(async () => {
  await app.queues.main.clearMessages();
});

const pubkeyOf = () => randomBytes(32).toString('hex');

function notificationLog(pubkey: string, n: number, title: string): Doc {
  return { id: `${pubkey}-${n}`, type: 'notification-log', pubkey, title, created: 1_700_000_000_000 + n };
}

async function write(document: Doc): Promise<Doc> {
  await app.container.items.upsert(document);
  const { resource } = await app.container.item(document.id as string, document.pubkey as string).read<Doc>();
  return resource as Doc;
}

async function remove(document: Doc): Promise<number> {
  await app.container.item(document.id as string, document.pubkey as string).delete();
  return Math.floor(Date.now() / 1000);
}

/**
 * Positions in the feed, as the trigger's metadata gives them (`lsn`); a point read returns none, so the items
 * here take theirs from one counter, in the order the changes were made.
 */
let lsn = 0;
const created = (document: Doc) => ({ current: document, metadata: { operationType: 'create', crts: document._ts, lsn: ++lsn } });
const replaced = (document: Doc) => ({ current: document, metadata: { operationType: 'replace', crts: document._ts, lsn: ++lsn } });
const deleted = (document: Doc, crts: number) => ({
  current: {},
  metadata: { operationType: 'delete', crts, lsn: ++lsn, id: document.id, partitionKey: { pubkey: document.pubkey } },
});

async function sync(items: unknown[], attempt: 'retried' | 'last' = 'retried'): Promise<void> {
  const retryContext = { retryCount: attempt === 'last' ? 5 : 0, maxRetryCount: 5 };
  await app.registration('cosmosSync').callback(items, app.context('cosmosSync', { retryContext }));
}

async function title(document: Doc): Promise<string | null | undefined> {
  const row = await app.db.prisma.notificationLog.findUnique({ where: { id: document.id as string }, select: { title: true } });
  return row === null ? undefined : row.title;
}

/** Every message on the queue, parsed; the queue is left as it was, for `drain`. */
async function queued(): Promise<DocumentsMessage[]> {
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await app.queues.main.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 300 });
    if (receivedMessageItems.length === 0) break;
    texts.push(...receivedMessageItems.map((item) => item.messageText));
  }
  await app.queues.main.clearMessages();
  for (const text of texts) await app.queues.main.sendMessage(text);
  return texts.map((text) => migrationMessageSchema.parse(JSON.parse(text)) as DocumentsMessage);
}

async function quarantinedWith(marker: string): Promise<number> {
  const { rows } = await app.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM quarantine WHERE document::text LIKE '%' || $1 || '%'`,
    [marker],
  );
  return rows[0]?.n ?? 0;
}

describe('AllVersionsAndDeletes: one id created, replaced, deleted and created again', () => {
  test('within one batch, ends at the new creation', async () => {
    const pubkey = pubkeyOf();
    const first = await write(notificationLog(pubkey, 1, 'created'));
    const second = await write(notificationLog(pubkey, 1, 'replaced'));
    const at = await remove(second);
    const again = await write(notificationLog(pubkey, 1, 'created again'));
    await sync([created(first), replaced(second), deleted(second, at), created(again)]);
    expect(await title(again)).toBe('created again');
  });

  test('across batches, each batch leaves the state its last change says', async () => {
    const pubkey = pubkeyOf();
    const first = await write(notificationLog(pubkey, 2, 'created'));
    await sync([created(first)]);
    expect(await title(first)).toBe('created');
    const second = await write(notificationLog(pubkey, 2, 'replaced'));
    await sync([replaced(second)]);
    expect(await title(first)).toBe('replaced');
    const deletion = deleted(second, await remove(second));
    await sync([deletion]);
    expect(await title(first)).toBeUndefined();
    // The delete's tombstone does not keep the document out once it is created again.
    const again = await write(notificationLog(pubkey, 2, 'created again'));
    await sync([created(again)]);
    expect(await title(first)).toBe('created again');
    // The delete delivered again, late, does not remove the new creation.
    await sync([deletion]);
    expect(await title(first)).toBe('created again');
  });
});

describe('AllVersionsAndDeletes: a batch of plain documents (the GA extension bundle ignores the mode)', () => {
  test('is refused while the runtime retries, naming the cause; on the last attempt every item is deferred, then written', async () => {
    const pubkey = pubkeyOf();
    const documents = await Promise.all([1, 2, 3].map((n) => write(notificationLog(pubkey, n, `plain ${n}`))));
    const logsBefore = app.logs.length;

    await expect(sync(documents)).rejects.toThrow(/extension bundle/);
    expect(await app.db.prisma.notificationLog.count({ where: { pubkey } })).toBe(0);
    expect(await queued()).toEqual([]);

    await sync(documents, 'last');
    const messages = await queued();
    const entries = messages.flatMap((message) => message.documents);
    expect(entries.map((entry) => ('id' in entry ? entry.id : undefined)).sort()).toEqual(documents.map((document) => document.id).sort());
    expect(app.logs.slice(logsBefore).some((log) => log.level === 'error' && /all 3 change\(s\) sent for resync/.test(log.message))).toBe(
      true,
    );
    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    expect(await app.db.prisma.notificationLog.count({ where: { pubkey } })).toBe(3);
  });
});

describe('an item the sync cannot read is never dropped', () => {
  test('AllVersionsAndDeletes: held while retries remain, then deferred with the batch and kept in the quarantine', async () => {
    const pubkey = pubkeyOf();
    const marker = `unreadable-${pubkey.slice(0, 12)}`;
    const good = await write(notificationLog(pubkey, 1, 'good'));
    const items = [created(good), { metadata: { operationType: 'create', lsn: ++lsn }, note: marker }];

    await expect(sync(items)).rejects.toBeInstanceOf(ChangeFeedUnreadableError);
    expect(await title(good)).toBeUndefined();
    await sync(items, 'last');
    expect((await queued()).flatMap((message) => message.documents)).toHaveLength(2);
    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    expect(await title(good)).toBe('good');
    expect(await quarantinedWith(marker)).toBe(1);
  });

  test('LatestVersion: a change record or a non-document among documents is held, then deferred and quarantined', async () => {
    const pubkey = pubkeyOf();
    const marker = `stray-${pubkey.slice(0, 12)}`;
    const good = await write(notificationLog(pubkey, 1, 'good'));
    const recorded = await write(notificationLog(pubkey, 2, 'delivered as a change record'));
    const items = [good, created(recorded), [marker]];
    const enqueue = (messages: Parameters<typeof enqueueMigrationMessages>[1]) => enqueueMigrationMessages(app.config, messages);
    const services = { config: app.config, prisma: app.db.prisma, cosmos: app.container };

    const held = syncChangeBatch(services, items, { mode: 'LatestVersion', willRetry: true, enqueue });
    await expect(held).rejects.toThrow(
      /1 all-versions change record\(s\) arrived in LatestVersion mode.*1 change-feed item\(s\) name no document/,
    );
    expect(await title(good)).toBeUndefined();
    expect(await queued()).toEqual([]);

    const outcome = await syncChangeBatch(services, items, { mode: 'LatestVersion', willRetry: false, enqueue });
    expect(outcome).toMatchObject({ kind: 'deferred', documents: 3, refused: true });
    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    expect(await title(good)).toBe('good');
    // The change record's document is read again from Cosmos and written; the array names none and is kept whole.
    expect(await title(recorded)).toBe('delivered as a change record');
    expect(await quarantinedWith(marker)).toBe(1);
  });
});
