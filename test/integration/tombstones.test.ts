import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockIdentities } from '../../shared/postgres/tombstones.js';
import { applyDeletes } from '../../shared/sync/apply-deletes.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type Doc, payment } from '../support/document-shapes.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * Deletes remembered as tombstones (issue 9, "Ordering that holds"): a version read before a delete cannot
 * bring its row back, whichever path writes it; a document created again is written and clears the tombstone;
 * tombstones older than the retention are purged as deletes are applied. Positions (`_lsn`, the delete's
 * `lsn`) decide where both sides have one; commit times (`_ts`, `crts`) otherwise.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const newPubkey = () => randomBytes(32).toString('hex');

function version(document: Doc, ts: number, lsn?: number): Doc {
  return { ...document, _ts: ts, ...(lsn === undefined ? {} : { _lsn: lsn }) };
}

async function paymentRow(id: string): Promise<Doc | undefined> {
  const { rows } = await db.pool.query<Doc>('SELECT "id", "cosmosTs", "cosmosLsn" FROM "payments" WHERE "id" = $1', [id]);
  return rows[0];
}

async function tombstone(id: string): Promise<Doc | undefined> {
  const { rows } = await db.pool.query<Doc>('SELECT "pubkey", "cosmosTs", "cosmosLsn" FROM "tombstones" WHERE "id" = $1', [id]);
  return rows[0];
}

describe('a page read before a delete', () => {
  it('is not written after the delete, by position or by time, and a stale unmappable copy is not quarantined', async () => {
    const pubkey = newPubkey();
    const positioned = payment(pubkey, `payment-${pubkey.slice(0, 8)}-1`);
    const timed = payment(pubkey, `payment-${pubkey.slice(0, 8)}-2`);
    await applyDocuments(db.prisma, [version(positioned, 100, 10), version(timed, 100)], { source: 'sync' });
    const removal = await applyDeletes(db.prisma, [
      { id: positioned.id as string, pubkey, ts: 100, lsn: 11 },
      { id: timed.id as string, pubkey, ts: 101 },
    ]);
    expect(removal).toMatchObject({ deleted: 2, ties: [], reconsider: [] });
    expect(await tombstone(positioned.id as string)).toEqual({ pubkey, cosmosTs: '100', cosmosLsn: '11' });

    // The migration's pages, read before the deletes, commit after them.
    const late = await applyDocuments(
      db.prisma,
      [version(positioned, 100, 10), version(timed, 101), { ...version(timed, 99), lnAmountSat: 'not a number' }],
      { source: 'migration' },
    );
    expect(late).toMatchObject({ written: 0, unchanged: 3, quarantined: 0 });
    expect(await paymentRow(positioned.id as string)).toBeUndefined();
    expect(await paymentRow(timed.id as string)).toBeUndefined();
  });

  it('does not stop the document created again: it is written, and the tombstone goes', async () => {
    const pubkey = newPubkey();
    const document = payment(pubkey, `payment-${pubkey.slice(0, 8)}`);
    await applyDocuments(db.prisma, [version(document, 100, 10)], { source: 'sync' });
    await applyDeletes(db.prisma, [{ id: document.id as string, pubkey, ts: 100, lsn: 11 }]);
    // Created again in the same second: only its position says it comes after the delete.
    const again = await applyDocuments(db.prisma, [version(document, 100, 12)], { source: 'sync' });
    expect(again.written).toBe(1);
    expect(await paymentRow(document.id as string)).toMatchObject({ cosmosLsn: '12' });
    expect(await tombstone(document.id as string)).toBeUndefined();
    // A delete delivered late, older than the re-created version, leaves it alone.
    expect((await applyDeletes(db.prisma, [{ id: document.id as string, pubkey, ts: 100, lsn: 11 }])).deleted).toBe(0);
    expect(await paymentRow(document.id as string)).toBeDefined();
  });
});

describe('a page and a delete of one document at the same moment', () => {
  it('never leaves the row behind: the write waits for the delete to commit, then sees its tombstone', async () => {
    const pubkey = newPubkey();
    const document = payment(pubkey, `payment-${pubkey.slice(0, 8)}`);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let recorded: () => void = () => undefined;
    const deleteRecorded = new Promise<void>((resolve) => {
      recorded = resolve;
    });
    // A delete mid-transaction: its lock taken and its tombstone recorded, not yet committed. The row does not
    // exist yet, so there is no row lock for the page to wait on: only the identity lock orders the two.
    const deleting = db.prisma.$transaction(async (tx) => {
      await lockIdentities(tx, [document.id as string], 'exclusive');
      await tx.$executeRawUnsafe(
        'INSERT INTO "tombstones" ("pubkey", "id", "cosmosTs", "cosmosLsn") VALUES ($1, $2, 100, 11)',
        pubkey,
        document.id,
      );
      recorded();
      await held;
    });
    // The page starts once the delete holds its lock: started together, either could take its lock first.
    await deleteRecorded;
    const writing = applyDocuments(db.prisma, [version(document, 100, 10)], { source: 'migration' });
    // The page's transaction is waiting for the identity lock (an advisory lock wait), not writing.
    for (;;) {
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = ` +
          `'Lock' AND wait_event = 'advisory'`,
      );
      if ((rows[0]?.n ?? 0) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    await deleting;
    expect((await writing).unchanged).toBe(1);
    expect(await paymentRow(document.id as string)).toBeUndefined();
  });
});

describe('a delete that cannot be ordered against the row', () => {
  it('keeps the row and reports the tie when the second is the same and positions are missing', async () => {
    const pubkey = newPubkey();
    const document = payment(pubkey, `payment-${pubkey.slice(0, 8)}`);
    await applyDocuments(db.prisma, [{ ...version(document, 100), _etag: '"e1"' }], { source: 'migration' });
    const removal = await applyDeletes(db.prisma, [{ id: document.id as string, pubkey, ts: 100, lsn: 5 }]);
    expect(removal.deleted).toBe(0);
    expect(removal.ties).toEqual([{ id: document.id, pubkey, cosmosTs: 100, cosmosEtag: '"e1"', deleteLsn: 5 }]);
    expect(await paymentRow(document.id as string)).toBeDefined();
  });
});

describe('what no row can hold, and old tombstones', () => {
  it('ignores a delete naming an id or partition key PostgreSQL text cannot hold, and applies the rest', async () => {
    const pubkey = newPubkey();
    const document = payment(pubkey, `payment-${pubkey.slice(0, 8)}`);
    await applyDocuments(db.prisma, [version(document, 100)], { source: 'sync' });
    const removal = await applyDeletes(db.prisma, [
      { id: 'payment-\u0000', pubkey, ts: 200 },
      { id: 'payment-x', pubkey: 'lone \uD800', ts: 200 },
      { id: document.id as string, pubkey, ts: 200 },
    ]);
    expect(removal).toMatchObject({ deleted: 1, ignored: 2 });
  });

  it('purges tombstones older than the retention as deletes are applied, and keeps the recent ones', async () => {
    const [old, recent] = [newPubkey(), newPubkey()];
    await db.pool.query(
      `INSERT INTO "tombstones" ("pubkey", "id", "cosmosTs", "deletedAt") VALUES ($1, 'old', 1, now() - interval '8 ` +
        `days'), ($2, 'recent', 1, now() - interval '6 days')`,
      [old, recent],
    );
    await applyDeletes(db.prisma, [{ id: 'unrelated', pubkey: newPubkey(), ts: 1 }], { retentionDays: 7 });
    const { rows } = await db.pool.query('SELECT "pubkey" FROM "tombstones" WHERE "pubkey" = ANY($1::text[])', [[old, recent]]);
    expect(rows).toEqual([{ pubkey: recent }]);
  });
});
