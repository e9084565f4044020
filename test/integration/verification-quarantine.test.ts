import { randomBytes } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { formatFullVerificationReport, formatVerificationReport, verifyAll, verifyUser } from '../../shared/verification/index.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { type Doc, payment } from '../support/document-shapes.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * What verification makes of the quarantine (issue 9, "No stranded document" and "Small things"): a document
 * quarantined because no table can hold it is accounted for; a valid document waiting there for a row another
 * holds is NOT consistent; documents of no known type are looked for there; and a user's field named like a
 * system property is kept and compared like any other. Each test has its own container and database, since
 * the whole-container pass compares everything on both sides.
 */

let cosmos: CosmosTestServer;
let db: TestDatabase;
let container: Container;
let ctx: Pick<AppContext, 'prisma' | 'cosmos' | 'config'>;

beforeAll(async () => {
  cosmos = await startCosmosServer();
});
afterAll(() => cosmos?.stop());
beforeEach(async () => {
  [db, container] = await Promise.all([createTestDatabase(), createTestContainer(cosmos.client)]);
  ctx = { prisma: db.prisma, cosmos: container, config: loadConfig({}) };
});
afterEach(() => db?.drop());

const newPubkey = () => randomBytes(32).toString('hex');

/** Writes a document to Cosmos and returns it as Cosmos keeps it (system properties included). */
async function stored(document: Doc): Promise<Doc> {
  const { resource } = await container.items.create(document);
  return resource as Doc;
}

function account(pubkey: string, id: string): Doc {
  return { id, type: 'account', pubkey, tier: 'premium', subscription: { tier: 'premium' }, created: 1_700_000_000_000 };
}

describe('documents only in the quarantine', () => {
  it('counts a competitor for another document’s row as not consistent, and says what to do', async () => {
    const pubkey = newPubkey();
    // Two accounts of one pubkey: the table holds one; the other waits in the quarantine.
    const documents = [await stored(account(pubkey, `account-${pubkey}`)), await stored(account(pubkey, `legacy-${pubkey}`))];
    const applied = await applyDocuments(db.prisma, documents, { source: 'migration' });
    expect(applied).toMatchObject({ written: 1, quarantined: 1 });
    const [loser] = applied.quarantinedKeys;
    const { rows } = await db.pool.query<{ documentId: string; reasonCode: string; competesFor: string }>(
      'SELECT "documentId", "reasonCode", "competesFor" FROM "quarantine" WHERE "key" = $1',
      [loser],
    );
    expect(rows).toEqual([{ documentId: expect.any(String), reasonCode: 'conflict', competesFor: `accounts:${pubkey}` }]);
    const waiting = rows[0]?.documentId as string;

    const user = await verifyUser(ctx, pubkey);
    expect(user.consistent).toBe(false);
    expect(user.differences).toEqual([
      {
        type: 'account',
        id: waiting,
        kind: 'competing',
        reason: expect.stringContaining('holds its row'),
        reasonCode: 'conflict',
        key: loser,
      },
    ]);
    expect(formatVerificationReport(user)).toMatch(/1 DIFFERENCE[\s\S]*only in the quarantine, competing for a row another document holds/);

    const all = await verifyAll(ctx, { pageSize: 10 });
    expect(all.consistent).toBe(false);
    expect(all.competing).toEqual({ count: 1, listed: [{ type: 'account', id: waiting, pubkey, reason: expect.any(String) }] });
    expect(all.quarantined.count).toBe(1);
    expect(all.types.account).toMatchObject({ cosmos: 2, postgres: 1, matching: 1, quarantined: 1, competing: 1, newerThanRow: 0 });
    expect(formatFullVerificationReport(all)).toMatch(
      /Result: DIFFERENCES FOUND[\s\S]*Waiting in the quarantine for a row \(not consistent\): 1/,
    );
  });

  it('counts a document no table can hold as accounted for: the quarantine says why', async () => {
    const pubkey = newPubkey();
    const broken = await stored({ ...payment(pubkey, `payment-${pubkey.slice(0, 8)}`), lnAmountSat: 'twenty-one' });
    expect((await applyDocuments(db.prisma, [broken], { source: 'migration' })).quarantined).toBe(1);
    const user = await verifyUser(ctx, pubkey);
    expect(user).toMatchObject({ consistent: true, quarantined: 1 });
    expect(user.differences).toEqual([
      {
        type: 'payment',
        id: broken.id,
        kind: 'quarantined',
        reason: expect.stringContaining('lnAmountSat'),
        reasonCode: 'unmappable',
        key: `${pubkey}/${String(broken.id)}`,
      },
    ]);
    const all = await verifyAll(ctx);
    expect(all).toMatchObject({ consistent: true, competing: { count: 0 } });
    expect(all.quarantined.count).toBe(1);
  });
});

describe('documents of no known type', () => {
  it('are looked for in the quarantine, by the whole-container pass and per user; one never migrated is reported', async () => {
    const pubkey = newPubkey();
    const migrated = await stored({ id: `odd-${pubkey.slice(0, 8)}-1`, pubkey, type: 'prototype-note' });
    const untyped = await stored({ id: `odd-${pubkey.slice(0, 8)}-2`, pubkey, text: 'no type at all' });
    expect((await applyDocuments(db.prisma, [migrated], { source: 'migration' })).quarantined).toBe(1);

    const all = await verifyAll(ctx, { pageSize: 1 });
    expect(all.otherTypes).toEqual({ cosmos: 2, quarantined: 1, missing: { count: 1, listed: [{ id: untyped.id, pubkey }] } });
    expect(all.consistent).toBe(false);
    expect(formatFullVerificationReport(all)).toContain(
      `Of no known type, neither migrated nor in the quarantine: 1\n  ${String(untyped.id)} [${pubkey}]`,
    );
    const user = await verifyUser(ctx, pubkey);
    expect(user).toMatchObject({ consistent: false, otherTypes: { cosmos: 2, quarantined: 1, missing: [untyped.id] } });

    expect((await applyDocuments(db.prisma, [untyped], { source: 'migration' })).quarantined).toBe(1);
    expect(await verifyAll(ctx)).toMatchObject({ consistent: true, otherTypes: { cosmos: 2, quarantined: 2, missing: { count: 0 } } });
    expect((await verifyUser(ctx, pubkey)).consistent).toBe(true);
  });
});

describe('a field named like a system property', () => {
  it('is kept as the user’s data where Cosmos keeps it, and compared like any other field', async () => {
    const pubkey = newPubkey();
    // Cosmos replaces what it generates (`_attachments`, `_self`...) and keeps every other field, `_`-prefixed or not.
    const document = await stored({
      ...payment(pubkey, `payment-${pubkey.slice(0, 8)}`),
      _attachments: { mine: true },
      _origin: { app: 'v1' },
    });
    expect(document._origin).toEqual({ app: 'v1' });
    expect((await applyDocuments(db.prisma, [document], { source: 'migration' })).written).toBe(1);
    const { rows } = await db.pool.query<{ extra: Doc }>('SELECT "extra" FROM "payments" WHERE "id" = $1', [document.id]);
    expect(rows[0]?.extra).toEqual({ _origin: { app: 'v1' } });
    expect((await verifyUser(ctx, pubkey)).consistent).toBe(true);

    await db.pool.query(`UPDATE "payments" SET "extra" = '{"_origin": {"app": "v2"}}' WHERE "id" = $1`, [document.id]);
    const user = await verifyUser(ctx, pubkey);
    expect(user.consistent).toBe(false);
    expect(user.differences).toEqual([
      { type: 'payment', id: document.id, kind: 'different', path: '_origin.app', cosmos: 'v1', postgres: 'v2' },
    ]);
  });
});

describe('a quarantined version newer than the row PostgreSQL serves (strict verification)', () => {
  /** Waits until Cosmos's clock (whole seconds) has moved on, so the next write is a newer version. */
  async function nextSecond(): Promise<void> {
    const start = Math.floor(Date.now() / 1000);
    while (Math.floor(Date.now() / 1000) === start) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  it('is a difference: an account replaced in Cosmos by a version no table can hold keeps its old row', async () => {
    const pubkey = newPubkey();
    const id = `account-${pubkey}`;
    expect((await applyDocuments(db.prisma, [await stored(account(pubkey, id))], { source: 'migration' })).written).toBe(1);
    await nextSecond();
    const { resource: replaced } = await container.items.upsert({ ...account(pubkey, id), tier: 42 });
    expect((await applyDocuments(db.prisma, [replaced as Doc], { source: 'sync' })).quarantined).toBe(1);

    const user = await verifyUser(ctx, pubkey);
    expect(user).toMatchObject({ consistent: false, quarantined: 0 });
    expect(user.differences).toEqual([
      {
        type: 'account',
        id,
        kind: 'quarantined-newer',
        reason: expect.stringContaining('tier'),
        reasonCode: 'unmappable',
        key: `${pubkey}/${id}`,
      },
    ]);
    expect(formatVerificationReport(user)).toMatch(/Result: 1 DIFFERENCE\n[\s\S]*PostgreSQL serves an older version/);
    expect(formatVerificationReport(user)).not.toContain('CONSISTENT');

    const all = await verifyAll(ctx);
    expect(all).toMatchObject({
      consistent: false,
      newerThanRow: { count: 1, listed: [{ type: 'account', id, pubkey }] },
      competing: { count: 0 },
    });
    expect(all.types.account).toMatchObject({ quarantined: 1, newerThanRow: 1 });
    expect(formatFullVerificationReport(all)).toMatch(/Quarantined, newer than the row PostgreSQL serves \(not consistent\): 1/);
  });

  it('is a difference when the document was deleted and created again with a version no table can hold', async () => {
    const pubkey = newPubkey();
    const id = `account-${pubkey}`;
    await applyDocuments(db.prisma, [await stored(account(pubkey, id))], { source: 'migration' });
    // LatestVersion mode never shows the delete: only the new creation arrives.
    await container.item(id, pubkey).delete();
    await nextSecond();
    const recreated = await stored({ ...account(pubkey, id), subscription: 'not an object' });
    expect((await applyDocuments(db.prisma, [recreated], { source: 'sync' })).quarantined).toBe(1);
    const user = await verifyUser(ctx, pubkey);
    expect(user.consistent).toBe(false);
    expect(user.differences).toEqual([expect.objectContaining({ id, kind: 'quarantined-newer' })]);
    expect((await verifyAll(ctx)).newerThanRow.count).toBe(1);
  });

  it('takes any other reason code as waiting for a row when the document has none, and lists a version older than its row', async () => {
    const pubkey = newPubkey();
    const waiting = await stored(payment(pubkey, `payment-waiting-${pubkey.slice(0, 6)}`));
    const older = await stored(payment(pubkey, `payment-older-${pubkey.slice(0, 6)}`));
    await applyDocuments(db.prisma, [older], { source: 'migration' });
    // A code this version does not know (a newer writer's), for a version of each as Cosmos holds it. (`diverged`, which
    // the sync records, is a difference even with a row: see switch.test.ts.)
    for (const document of [waiting, older]) {
      await db.pool.query(
        `INSERT INTO quarantine ("key", "documentId", "pubkey", "type", "document", "reason", "reasonCode", "source", "cosmosTs")
         VALUES ($1, $2, $3, 'payment', $4, 'kept by a newer writer', 'held-for-review', 'sync', $5)`,
        [`${pubkey}/${String(document.id)}`, document.id, pubkey, JSON.stringify(document), document._ts],
      );
    }
    // PostgreSQL's row of the second is newer than the quarantined version: listed, not a difference.
    await db.pool.query(`UPDATE payments SET "cosmosTs" = "cosmosTs" + 60, "purpose" = 'changed in PostgreSQL' WHERE id = $1`, [older.id]);
    const user = await verifyUser(ctx, pubkey);
    expect(user.differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: waiting.id, kind: 'competing', reasonCode: 'held-for-review' }),
        expect.objectContaining({ id: older.id, kind: 'quarantined', reasonCode: 'held-for-review' }),
      ]),
    );
    expect(user.differences).toHaveLength(2);
    expect(user.consistent).toBe(false);
    expect(formatVerificationReport(user)).toContain('only in the quarantine, waiting for a row (held-for-review: kept by a newer writer');
  });
});
