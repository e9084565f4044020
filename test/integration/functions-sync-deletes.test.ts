import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { verifyUser } from '../../shared/verification/verify-user.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * The sync in all-versions-and-deletes mode (COSMOSDB_CHANGE_FEED_MODE=AllVersionsAndDeletes), where
 * deletes reach PostgreSQL. The Cosmos-protocol server has no change feed in that mode either, so each
 * item is built the way the trigger delivers it, `{ current, previous, metadata }` (the wire format
 * @azure/functions types as CosmosDBv4ChangeFeedItem), around documents read back through the SDK.
 */

let app: FunctionAppEnvironment;

beforeAll(async () => {
  // Read when the function registers, as the host would read the app setting at start.
  vi.stubEnv('COSMOSDB_CHANGE_FEED_MODE', 'AllVersionsAndDeletes');
  app = await startFunctionAppEnvironment();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await app?.stop();
});

type Doc = Record<string, unknown>;
let lsn = 0;

function notificationLog(pubkey: string, n: number, title: string): Doc {
  return { id: `${pubkey}-${n}`, type: 'notification-log', pubkey, title, created: 1_700_000_000_000 + n, modified: 1_700_000_000_000 + n };
}

async function write(document: Doc): Promise<Doc> {
  await app.container.items.upsert(document);
  const { resource } = await app.container.item(document.id as string, document.pubkey as string).read<Doc>();
  return resource as Doc;
}

const created = (document: Doc) => ({ current: document, metadata: { operationType: 'create', crts: document._ts, lsn: ++lsn } });
const replaced = (document: Doc) => ({ current: document, metadata: { operationType: 'replace', crts: document._ts, lsn: ++lsn } });
const deleted = (document: Doc, crts: number, at: number | null = ++lsn) => ({
  current: {},
  previous: document,
  metadata: { operationType: 'delete', crts, lsn: at, id: document.id, partitionKey: { pubkey: document.pubkey } },
});

async function sync(items: unknown[]): Promise<void> {
  await app.registration('cosmosSync').callback(items, app.context('cosmosSync'));
}

async function titles(pubkey: string): Promise<Record<string, string | null>> {
  const rows = await app.db.prisma.notificationLog.findMany({ where: { pubkey }, select: { id: true, title: true } });
  return Object.fromEntries(rows.map((row) => [row.id, row.title]));
}

test('registers the trigger in all-versions-and-deletes mode, without start-from-beginning (unsupported there)', () => {
  const trigger = Object.values(app.registration('cosmosSync').metadata.bindings).find((binding) => binding.direction === 'in');
  expect(trigger).toMatchObject({
    type: 'cosmosDBTrigger',
    changeFeedMode: 'AllVersionsAndDeletes',
    // Leases of this mode's own (issue 13): the processor refuses leases written in the other mode.
    leaseContainerPrefix: '%COSMOSDB_LEASE_PREFIX%AllVersionsAndDeletes-',
  });
  expect(trigger).not.toHaveProperty('startFromBeginning');
});

test("a batch applies each document's last change: writes, deletes, and a delete followed by a re-create", async () => {
  const pubkey = randomBytes(32).toString('hex');
  const kept = await write(notificationLog(pubkey, 1, 'first'));
  const keptNewer = await write(notificationLog(pubkey, 1, 'second'));
  const removed = await write(notificationLog(pubkey, 2, 'short-lived'));
  const recreatedOld = await write(notificationLog(pubkey, 3, 'old'));
  await sync([created(kept), created(removed), created(recreatedOld)]);
  expect(await titles(pubkey)).toEqual({
    [kept.id as string]: 'first',
    [removed.id as string]: 'short-lived',
    [recreatedOld.id as string]: 'old',
  });

  await app.container.item(removed.id as string, pubkey).delete();
  await app.container.item(recreatedOld.id as string, pubkey).delete();
  const recreated = await write(notificationLog(pubkey, 3, 'new'));
  const now = Math.floor(Date.now() / 1000);
  await sync([replaced(keptNewer), deleted(removed, now), deleted(recreatedOld, now), created(recreated)]);
  expect(await titles(pubkey)).toEqual({ [kept.id as string]: 'second', [recreated.id as string]: 'new' });
  expect(app.logs.some((log) => /synced 4 change\(s\): .* 1 deleted/.test(log.message))).toBe(true);
});

test('a delete older than the row it would remove leaves the row alone (version guard)', async () => {
  const pubkey = randomBytes(32).toString('hex');
  const document = await write(notificationLog(pubkey, 1, 'current'));
  const item = created(document);
  await sync([item]);
  // Positions on both sides: the delete came before this version in the feed (a re-delivered, older delete).
  await sync([deleted(document, (document._ts as number) + 60, item.metadata.lsn - 1)]);
  expect(await titles(pubkey)).toEqual({ [document.id as string]: 'current' });
  // No position on the delete: its commit time decides.
  await sync([deleted(document, (document._ts as number) - 60, null)]);
  expect(await titles(pubkey)).toEqual({ [document.id as string]: 'current' });
  await sync([deleted(document, document._ts as number)]);
  expect(await titles(pubkey)).toEqual({});
});

function account(pubkey: string, id: string, modified: number): Doc {
  return { id, type: 'account', pubkey, tier: 'premium', subscription: { tier: 'premium' }, created: 1_700_000_000_000, modified };
}

async function quarantined(pubkey: string): Promise<Array<{ documentId: string; reasonCode: string }>> {
  const { rows } = await app.db.pool.query<{ documentId: string; reasonCode: string }>(
    'SELECT "documentId", "reasonCode" FROM "quarantine" WHERE "pubkey" = $1 ORDER BY "documentId"',
    [pubkey],
  );
  return rows;
}

test('deleting the document that holds a row brings in the competitor waiting for it (no stranded document)', async () => {
  const pubkey = randomBytes(32).toString('hex');
  const waiting = await write(account(pubkey, `account-${pubkey}`, 1));
  const holder = await write(account(pubkey, `legacy-${pubkey}`, 2));
  await sync([created(waiting), created(holder)]);
  const holderRow = await app.db.pool.query('SELECT "id" FROM "accounts" WHERE "pubkey" = $1', [pubkey]);
  expect(holderRow.rows).toEqual([{ id: holder.id }]);
  expect(await quarantined(pubkey)).toEqual([{ documentId: waiting.id, reasonCode: 'conflict' }]);
  expect((await verifyUser({ prisma: app.db.prisma, cosmos: app.container }, pubkey)).consistent).toBe(false);

  await app.container.item(holder.id as string, pubkey).delete();
  await sync([deleted(holder, Math.floor(Date.now() / 1000))]);
  const after = await app.db.pool.query('SELECT "id" FROM "accounts" WHERE "pubkey" = $1', [pubkey]);
  expect(after.rows).toEqual([{ id: waiting.id }]);
  expect(await quarantined(pubkey)).toEqual([]);
  expect((await verifyUser({ prisma: app.db.prisma, cosmos: app.container }, pubkey)).consistent).toBe(true);
});

test('deleting a payment brings in the same id under another pubkey, which was waiting for it', async () => {
  const [owner, other] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
  const id = `payment-shared-${owner.slice(0, 8)}`;
  const payment = (pubkey: string): Doc => ({
    id,
    type: 'payment',
    pubkey,
    paymentType: 'ln',
    lnHash: 'h',
    lnInvoice: 'lnbc1',
    lnAmountSat: 1,
    tier: 'basic',
    billingCycle: 'monthly',
    priceCents: 1,
    isPaid: true,
    expires: 2,
    created: 1,
  });
  const first = await write(payment(owner));
  const second = await write(payment(other));
  await sync([created(first), created(second)]);
  expect(await quarantined(other)).toEqual([{ documentId: id, reasonCode: 'conflict' }]);

  await app.container.item(id, owner).delete();
  await sync([deleted(first, Math.floor(Date.now() / 1000))]);
  const { rows } = await app.db.pool.query('SELECT "pubkey" FROM "payments" WHERE "id" = $1', [id]);
  expect(rows).toEqual([{ pubkey: other }]);
  expect(await quarantined(other)).toEqual([]);
});

test(
  'a delete in the same second as a row without a position is settled by reading Cosmos: gone, the row goes; ' + 'there, it stays',
  async () => {
    const pubkey = randomBytes(32).toString('hex');
    // Migrated by a query (no position), then the delete arrives with the same second as the row's version.
    const gone = await write(notificationLog(pubkey, 1, 'deleted in Cosmos'));
    const kept = await write(notificationLog(pubkey, 2, 'still in Cosmos'));
    const withoutPosition = (document: Doc) => ({ ...document, _lsn: undefined });
    await applyDocuments(app.db.prisma, [withoutPosition(gone), withoutPosition(kept)], { source: 'migration' });
    await app.container.item(gone.id as string, pubkey).delete();
    await sync([deleted(gone, gone._ts as number), deleted(kept, kept._ts as number)]);
    expect(await titles(pubkey)).toEqual({ [kept.id as string]: 'still in Cosmos' });
  },
);
