import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { generateInvalidDocuments } from '../../dev/sample-data/generate-invalid-documents.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { documentToRow, normalizeDocument, type Row, rowToDocument } from '../../shared/domain/mapping.js';
import {
  compareDocumentVersions,
  compareEntryWithRowSql,
  compareRowsSql,
  compareVersions,
  mayReplaceSql,
  supersedes,
} from '../../shared/postgres/version-order.js';
import { type ApplyResult, applyDocuments } from '../../shared/write-path/apply-documents.js';
import { quarantineKey } from '../../shared/write-path/quarantine.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { countByType, countQuarantine, countRows, snapshotTables, truncateAll } from './fixtures/migration-tables.js';

type Doc = Record<string, unknown>;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());
beforeEach(() => truncateAll(db.pool));

/** Every document given is counted exactly once. */
function expectAccounted(result: ApplyResult, given: number): void {
  expect(result.written + result.unchanged + result.skipped + result.quarantined + result.failed).toBe(given);
}

function dataset(users: number, seed: number): Doc[] {
  return [...generateDataset({ users, seed })].map((document, index) => ({ ...document, _ts: 1_750_000_000 + (index % 97) }));
}

/** The first generated document of a type (the dataset is big enough to have every type). */
function firstOf(type: string, seed: number): Doc {
  const found = dataset(40, seed).find((document) => document.type === type);
  if (!found) throw new Error(`no ${type} in the dataset`);
  return found;
}

async function rowOf(type: DocumentType, key: string): Promise<Doc | undefined> {
  const descriptor = documentTypes[type];
  const { rows } = await db.pool.query<Doc>(`SELECT * FROM "${descriptor.table}" WHERE "${descriptor.key}" = $1`, [key]);
  return rows[0];
}

async function quarantineEntry(key: string): Promise<{ reason: string; document: unknown; cosmosTs: string } | undefined> {
  const { rows } = await db.pool.query('SELECT reason, document, "cosmosTs" FROM quarantine WHERE key = $1', [key]);
  return rows[0];
}

const pubkeyOf = (n: number) => n.toString(16).padStart(64, 'a');

describe('applyDocuments', () => {
  it('writes every generated document of all seven types, each reading back as the mapping promises', async () => {
    const documents = dataset(120, 11);
    const result = await applyDocuments(db.prisma, documents, { source: 'migration', chunkSize: 97 });
    expectAccounted(result, documents.length);
    expect(result.written).toBe(documents.length);
    expect(await countRows(db.pool)).toEqual(countByType(documents));
    expect(Object.values(countByType(documents)).every((n) => n > 0)).toBe(true);

    for (const document of documents) {
      const type = documentTypeOf(document.type) as DocumentType;
      const row = await rowOf(type, String(document[documentTypes[type].key]));
      expect(rowToDocument(type, row as Doc)).toEqual(normalizeDocument(document));
    }
  });

  it('changes nothing when the same documents are applied again', async () => {
    const documents = dataset(60, 12);
    await applyDocuments(db.prisma, documents, { source: 'migration' });
    const before = await snapshotTables(db.pool);
    const again = await applyDocuments(db.prisma, documents, { source: 'migration' });
    expect(again).toMatchObject({ written: 0, unchanged: documents.length, quarantined: 0, failed: 0 });
    expect(await snapshotTables(db.pool)).toEqual(before);
  });

  it('classifies in a dry run exactly as the write does, and writes nothing at all', async () => {
    const invalid = [...generateInvalidDocuments(3)].map((item, index) => ({
      ...item.document,
      id: `${String(item.document.id)}-${index}`,
    }));
    const documents = [...dataset(40, 13), ...invalid];
    const dry = await applyDocuments(db.prisma, documents, { source: 'migration', dryRun: true });
    expect(await countRows(db.pool)).toEqual(Object.fromEntries(documentTypeNames.map((type) => [type, 0])));
    expect(await countQuarantine(db.pool)).toBe(0);
    const real = await applyDocuments(db.prisma, documents, { source: 'migration' });
    expect(dry).toEqual(real);
    expect(real.quarantined).toBeGreaterThan(0);
  });

  it('quarantines every unmappable document with a reason naming the field, and keeps the rest of the batch', async () => {
    const invalid = [...generateInvalidDocuments(5)];
    const valid = dataset(10, 14);
    const result = await applyDocuments(db.prisma, [...valid, ...invalid.map((item) => item.document)], { source: 'sync' });
    expect(result.written).toBe(valid.length);
    // Several broken documents are versions of one original (same pubkey and id): one entry each.
    const keys = new Set(invalid.map((item) => quarantineKey(item.document)));
    expect(result.quarantined).toBe(invalid.length);
    expect(await countQuarantine(db.pool)).toBe(keys.size);
    for (const item of invalid) {
      const { rows } = await db.pool.query<{ reason: string; source: string }>('SELECT reason, source FROM quarantine WHERE key = $1', [
        quarantineKey(item.document),
      ]);
      expect(rows[0]?.source).toBe('sync');
      expect(rows.length).toBe(1);
    }
    const { rows } = await db.pool.query<{ reason: string }>('SELECT reason FROM quarantine');
    for (const { reason } of rows) expect(reason).not.toMatch(/oauth-token-in-an-object/);
  });

  it('clears a quarantine entry when a newer version of the document maps, and not when an older one does', async () => {
    const account = firstOf('account', 15);
    const broken = { ...account, tier: 'platinum', _ts: 200 };
    await applyDocuments(db.prisma, [broken], { source: 'sync' });
    expect(await quarantineEntry(quarantineKey(account))).toBeDefined();

    const older = await applyDocuments(db.prisma, [{ ...account, _ts: 100 }], { source: 'sync' });
    expect(older.written).toBe(1);
    expect((await quarantineEntry(quarantineKey(account)))?.cosmosTs).toBe('200');

    const newer = await applyDocuments(db.prisma, [{ ...account, _ts: 300 }], { source: 'sync' });
    expect(newer.written).toBe(1);
    expect(await quarantineEntry(quarantineKey(account))).toBeUndefined();

    // An unmappable version older than the stored row is stale, not a new problem.
    const late = await applyDocuments(db.prisma, [{ ...account, tier: 'platinum', _ts: 250 }], { source: 'sync' });
    expect(late).toMatchObject({ unchanged: 1, quarantined: 0 });
    expect(await countQuarantine(db.pool)).toBe(0);
  });

  it('keeps the newest of several copies of one document inside a batch', async () => {
    const log = firstOf('notification-log', 16);
    const versions = [3, 1, 2].map((n) => ({ ...log, title: `v${n}`, _ts: 1000 + n }));
    const result = await applyDocuments(db.prisma, versions, { source: 'migration' });
    expect(result).toMatchObject({ written: 1, unchanged: 2 });
    expect((await rowOf('notification-log', String(log.id)))?.title).toBe('v3');
  });

  it('skips documents whose row exists with skipExisting, leaving the row alone', async () => {
    const payment = firstOf('payment', 17);
    await applyDocuments(db.prisma, [{ ...payment, _ts: 10 }], { source: 'migration' });
    const result = await applyDocuments(db.prisma, [{ ...payment, isPaid: !payment.isPaid, _ts: 20 }], {
      source: 'migration',
      skipExisting: true,
    });
    expect(result).toMatchObject({ written: 0, skipped: 1 });
    expect((await rowOf('payment', String(payment.id)))?.isPaid).toBe(payment.isPaid);
  });

  it('keeps a document containing U+0000 in the quarantine, exactly, as JSON text', async () => {
    const log = firstOf('notification-log', 18);
    const withNul = { ...log, body: 'before\u0000after', 'odd\u0000key': 1 };
    const result = await applyDocuments(db.prisma, [withNul], { source: 'migration' });
    expect(result.quarantined).toBe(1);
    const entry = await quarantineEntry(quarantineKey(withNul));
    expect(entry?.reason).toMatch(/NUL/);
    expect(JSON.parse(entry?.document as string)).toEqual(withNul);
  });

  it('isolates a row PostgreSQL refuses: it fails into the quarantine with the database reason, the batch is written', async () => {
    await db.pool.query(`ALTER TABLE notification_logs ADD CONSTRAINT test_refuse CHECK (title IS DISTINCT FROM 'refuse me')`);
    try {
      const logs = dataset(30, 19).filter((document) => document.type === 'notification-log');
      expect(logs.length).toBeGreaterThan(5);
      const refused = { ...logs[2], title: 'refuse me' };
      const batch = [...logs.slice(0, 2), refused, ...logs.slice(3)];
      const result = await applyDocuments(db.prisma, batch, { source: 'migration', chunkSize: 4 });
      expect(result).toMatchObject({ written: batch.length - 1, failed: 1, failedKeys: [quarantineKey(refused)] });
      expectAccounted(result, batch.length);
      expect((await quarantineEntry(quarantineKey(refused)))?.reason).toMatch(/23514/);
      expect((await countRows(db.pool))['notification-log']).toBe(batch.length - 1);
    } finally {
      await db.pool.query('ALTER TABLE notification_logs DROP CONSTRAINT test_refuse');
    }
  });

  it('reports in a dry run the row PostgreSQL would refuse, as the write does, and keeps nothing', async () => {
    await db.pool.query(`ALTER TABLE notification_logs ADD CONSTRAINT test_refuse CHECK (title IS DISTINCT FROM 'refuse me')`);
    try {
      const logs = dataset(30, 25).filter((document) => document.type === 'notification-log');
      const refused = { ...logs[1], title: 'refuse me' };
      const batch = [logs[0], refused, ...logs.slice(2)];
      let committing = 0;
      const dry = await applyDocuments(db.prisma, batch, {
        source: 'migration',
        chunkSize: 4,
        dryRun: true,
        beforeCommit: () => {
          committing += 1;
          return Promise.resolve();
        },
      });
      expect(dry).toMatchObject({ written: batch.length - 1, failed: 1, failedKeys: [quarantineKey(refused)] });
      expect(committing).toBe(0);
      expect(Object.values(await countRows(db.pool)).reduce((a, b) => a + b)).toBe(0);
      expect(await countQuarantine(db.pool)).toBe(0);
      expect(await applyDocuments(db.prisma, batch, { source: 'migration', chunkSize: 4 })).toEqual(dry);
    } finally {
      await db.pool.query('ALTER TABLE notification_logs DROP CONSTRAINT test_refuse');
    }
  });

  it('leaves rows, displaced rows and quarantine entries exactly as they were in a dry run', async () => {
    const pubkey = pubkeyOf(6);
    const account = firstOf('account', 26);
    const log = firstOf('notification-log', 26);
    const holder = { ...account, pubkey, id: 'holder', _ts: 100 };
    await applyDocuments(db.prisma, [holder, { ...log, pubkey, id: 'log', title: 42, _ts: 50 }], { source: 'sync' });
    expect(await countQuarantine(db.pool)).toBe(1);
    const before = await snapshotTables(db.pool);
    // A newer account of the pubkey displaces the holder; a newer version of the log clears its entry.
    const batch = [
      { ...account, pubkey, id: 'newcomer', _ts: 200 },
      { ...log, pubkey, id: 'log', _ts: 60 },
    ];
    const dry = await applyDocuments(db.prisma, batch, { source: 'sync', dryRun: true });
    expect(dry).toMatchObject({ written: 2, displaced: 1, displacedKeys: [quarantineKey(holder)] });
    expect(await snapshotTables(db.pool)).toEqual(before);
    expect(await applyDocuments(db.prisma, batch, { source: 'sync' })).toEqual(dry);
  });

  it('quarantines an unmappable document whose _ts is not a whole number without stopping its batch', async () => {
    const log = firstOf('notification-log', 27);
    await applyDocuments(db.prisma, [{ ...log, _ts: 100 }], { source: 'sync' });
    const fresh = { ...log, id: 'fractional', title: 42, _ts: 1e300 };
    const stale = { ...log, title: 42, _ts: 99.5 };
    const result = await applyDocuments(db.prisma, [fresh, stale, { ...log, id: 'valid', _ts: 7 }], { source: 'sync' });
    expect(result).toMatchObject({ written: 1, unchanged: 1, quarantined: 1, quarantinedKeys: [quarantineKey(fresh)] });
  });

  it('counts as stale an older copy of a document written in the same call, even one whose type it cannot tell', async () => {
    const payment = { ...firstOf('payment', 28), _ts: 200 };
    const olderUntyped = { ...payment, type: 'no-such-type', _ts: 100 };
    const result = await applyDocuments(db.prisma, [payment, olderUntyped], { source: 'sync' });
    expect(result).toMatchObject({ written: 1, unchanged: 1, quarantined: 0 });
    expect(await quarantineEntry(quarantineKey(olderUntyped))).toBeUndefined();
  });

  it('retries the whole batch after the server drops its connection mid-transaction', async () => {
    const documents = dataset(20, 20);
    let attempts = 0;
    const result = await applyDocuments(db.prisma, documents, {
      source: 'migration',
      beforeCommit: async (tx) => {
        attempts += 1;
        if (attempts > 1) return;
        const [backend] = await tx.$queryRawUnsafe<Array<{ pid: number }>>('SELECT pg_backend_pid() AS pid');
        await db.pool.query('SELECT pg_terminate_backend($1)', [backend?.pid]);
      },
    });
    expect(attempts).toBe(2);
    expect(result.written).toBe(documents.length);
    expect(Object.values(await countRows(db.pool)).reduce((a, b) => a + b)).toBe(documents.length);
  });

  it('throws on an error that is not transient, keeping nothing of the batch', async () => {
    const documents = dataset(5, 21);
    await expect(
      applyDocuments(db.prisma, documents, {
        source: 'migration',
        beforeCommit: async (tx) => {
          await tx.$queryRawUnsafe('SELECT * FROM no_such_table');
        },
      }),
    ).rejects.toThrow(/no_such_table|42P01/);
    expect(Object.values(await countRows(db.pool)).reduce((a, b) => a + b)).toBe(0);
  });
});

describe('identity guard', () => {
  const account = (pubkey: string, id: string, ts: number): Doc => ({
    id,
    pubkey,
    type: 'account',
    tier: 'free',
    subscription: { tier: 'free', entitlements: { notificationsPerDay: 5, features: [] } },
    created: 1_700_000_000_000,
    modified: ts * 1000,
    _ts: ts,
  });

  it.each([
    ['older first', [0, 1]],
    ['newer first', [1, 0]],
  ])('keeps the newer of two account documents of one pubkey and quarantines the older, naming the other (%s)', async (_, order) => {
    const pubkey = pubkeyOf(1);
    const versions = [account(pubkey, `account-${pubkey}`, 100), account(pubkey, 'legacy-account-id', 200)];
    for (const index of order) await applyDocuments(db.prisma, [versions[index]], { source: 'migration' });
    expect((await rowOf('account', pubkey))?.id).toBe('legacy-account-id');
    const entry = await quarantineEntry(quarantineKey(versions[0]));
    expect(entry?.reason).toContain('legacy-account-id');
    expect((entry?.document as Doc).id).toBe(`account-${pubkey}`);
    expect(await countQuarantine(db.pool)).toBe(1);
  });

  it('does the same for two documents of one pubkey in one batch', async () => {
    const pubkey = pubkeyOf(2);
    const result = await applyDocuments(db.prisma, [account(pubkey, 'b-newer', 300), account(pubkey, 'a-older', 100)], { source: 'sync' });
    expect(result).toMatchObject({ written: 1, quarantined: 1 });
    expect((await rowOf('account', pubkey))?.id).toBe('b-newer');
    expect((await quarantineEntry(quarantineKey(account(pubkey, 'a-older', 100))))?.reason).toContain('b-newer');
  });

  it('never overwrites a row whose id belongs to another pubkey', async () => {
    const payment = firstOf('payment', 22);
    await applyDocuments(db.prisma, [{ ...payment, _ts: 10 }], { source: 'migration' });
    const intruder = { ...payment, pubkey: pubkeyOf(3), lnAmountSat: 1, _ts: 99 };
    const result = await applyDocuments(db.prisma, [intruder], { source: 'migration' });
    expect(result).toMatchObject({ written: 0, quarantined: 1 });
    expect((await rowOf('payment', String(payment.id)))?.pubkey).toBe(payment.pubkey);
    expect((await quarantineEntry(quarantineKey(intruder)))?.reason).toContain(String(payment.pubkey));
  });

  it('never lets an account take an id another pubkey holds', async () => {
    await applyDocuments(db.prisma, [account(pubkeyOf(4), 'shared-id', 10)], { source: 'migration' });
    const result = await applyDocuments(db.prisma, [account(pubkeyOf(5), 'shared-id', 20)], { source: 'migration' });
    expect(result).toMatchObject({ written: 0, quarantined: 1 });
    expect(await rowOf('account', pubkeyOf(5))).toBeUndefined();
    expect((await quarantineEntry(`${pubkeyOf(5)}/shared-id`))?.reason).toContain(pubkeyOf(4));
  });
});

describe('a page that meets no existing row (written with COPY)', () => {
  it('reads back exactly any text, in a column and in extra, whatever COPY has to escape', async () => {
    const template = firstOf('payment', 31);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        // Any Unicode text PostgreSQL can hold (no U+0000, which the mapping refuses), with COPY's specials mixed in.
        fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('\\', '\t', '\n', '\r', '\\N', '\\.', '\\\\')), {
          maxLength: 8,
        }),
        async (parts) => {
          const text = parts.join('').replaceAll('\u0000', '');
          run += 1;
          const document = { ...template, id: `copy-${run}`, lnInvoice: text, note: { text, list: [text] } };
          const result = await applyDocuments(db.prisma, [document], { source: 'migration' });
          expect(result).toMatchObject({ written: 1, quarantined: 0, failed: 0 });
          expect(rowToDocument('payment', (await rowOf('payment', `copy-${run}`)) as Doc)).toEqual(normalizeDocument(document));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('takes the guarded write when a document of the page has a tombstone or a quarantine entry', async () => {
    const [quarantined, buried, plain] = [1, 2, 3].map((n): Doc => ({ ...firstOf('payment', 32), id: `guarded-${n}`, _ts: 200 }));
    const older = { ...(quarantined as Doc), _ts: 100, lnAmountSat: 'not a number' };
    expect(await applyDocuments(db.prisma, [older], { source: 'sync' })).toMatchObject({ quarantined: 1 });
    await db.pool.query('INSERT INTO "tombstones" ("pubkey", "id", "cosmosTs") VALUES ($1, $2, 300)', [buried?.pubkey, buried?.id]);

    const result = await applyDocuments(db.prisma, [quarantined, buried, plain], { source: 'migration' });
    expect(result).toMatchObject({ written: 2, unchanged: 1, quarantined: 0, failed: 0 });
    expect(await rowOf('payment', 'guarded-1')).toBeDefined();
    expect(await rowOf('payment', 'guarded-2')).toBeUndefined();
    expect(await rowOf('payment', 'guarded-3')).toBeDefined();
    expect(await quarantineEntry(quarantineKey(older))).toBeUndefined();
  });

  // The probe asks only about a chunk's first key (in key order): these pages start with a fresh row, so COPY is
  // tried, meets a row further on, and the chunk must come back from its savepoint and go through the guard.
  it('writes a page whose first row is new and a later one exists exactly as the guard decides', async () => {
    const payment = (id: string, ts: number, amount: number): Doc => ({ ...firstOf('payment', 33), id, _ts: ts, lnAmountSat: amount });
    await applyDocuments(db.prisma, [payment('mixed-b', 200, 7), payment('mixed-d', 200, 7)], { source: 'sync' });

    const page = [payment('mixed-a', 200, 1), payment('mixed-b', 300, 1), payment('mixed-c', 200, 1), payment('mixed-d', 100, 1)];
    const result = await applyDocuments(db.prisma, page, { source: 'migration' });
    expect(result).toMatchObject({ written: 3, unchanged: 1, quarantined: 0, failed: 0 });
    const amounts = await db.pool.query<{ id: string; amount: string }>(
      `SELECT "id", "lnAmountSat"::text AS amount FROM "payments" WHERE "id" LIKE 'mixed-%' ORDER BY "id"`,
    );
    expect(amounts.rows).toEqual([
      { id: 'mixed-a', amount: '1' },
      { id: 'mixed-b', amount: '1' },
      { id: 'mixed-c', amount: '1' },
      { id: 'mixed-d', amount: '7' },
    ]);
  });

  it('quarantines a later account of a page whose id another pubkey holds, and writes the rest', async () => {
    const account = (pubkey: string, id: string): Doc => ({ ...firstOf('account', 34), pubkey, id, _ts: 200 });
    await applyDocuments(db.prisma, [account(pubkeyOf(9), 'held-id')], { source: 'sync' });

    const result = await applyDocuments(db.prisma, [account(pubkeyOf(1), 'own-id'), account(pubkeyOf(2), 'held-id')], {
      source: 'migration',
    });
    expect(result).toMatchObject({ written: 1, quarantined: 1, failed: 0 });
    expect((await rowOf('account', pubkeyOf(1)))?.id).toBe('own-id');
    expect(await rowOf('account', pubkeyOf(2))).toBeUndefined();
    expect((await quarantineEntry(`${pubkeyOf(2)}/held-id`))?.reason).toContain(pubkeyOf(9));
  });

  /** Waits until some backend of the test database waits for a lock: the point where a write has met another's row. */
  async function untilOneWaitsForALock(): Promise<void> {
    for (let poll = 0; poll < 1500; poll += 1) {
      const { rows } = await db.pool.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if ((rows[0]?.waiting ?? 0) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('no write ever waited for the other one');
  }

  it.each([
    ['newer', 300, { written: 1, unchanged: 0 }, 1],
    ['older', 100, { written: 0, unchanged: 1 }, 7],
  ])('decides by the guard a row another writer inserts while the page is written (incoming %s)', async (_, ts, counts, amountKept) => {
    const payment = firstOf('payment', 23);
    const other = { ...payment, lnAmountSat: 7, _ts: 200 };
    const incoming = { ...payment, lnAmountSat: 1, _ts: ts };
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted = () => {};
    const hasInserted = new Promise<void>((resolve) => (inserted = resolve));
    // The other writer inserts the row and holds its transaction open, so the page's row lock cannot see it.
    const otherWrite = applyDocuments(db.prisma, [other], {
      source: 'sync',
      beforeCommit: () => {
        inserted();
        return held;
      },
    });
    await hasInserted;
    const pageWrite = applyDocuments(db.prisma, [incoming], { source: 'migration' });
    await untilOneWaitsForALock();
    release();
    expect(await otherWrite).toMatchObject({ written: 1 });
    const result = await pageWrite;
    expect(result).toMatchObject({ ...counts, quarantined: 0, failed: 0 });
    expectAccounted(result, 1);
    expect(Number((await rowOf('payment', String(payment.id)))?.lnAmountSat)).toBe(amountKept);
  });
});

describe('out-of-order and duplicate deliveries', () => {
  const bases = Object.fromEntries(
    documentTypeNames.map((type) => [type, dataset(40, 23).find((document) => documentTypeOf(document.type) === type) as Doc]),
  ) as Record<DocumentType, Doc>;
  let run = 0;

  interface Version {
    ts: number;
    modified: number | undefined;
    /** Which document of the pubkey (pubkey-keyed types only): two ids compete for one row. */
    idIndex: number;
    marker: number;
  }

  const versionKey = (v: Version) => [v.ts, v.modified ?? -1] as const;
  const newer = (a: Version, b: Version, ids: string[]) => {
    const [ta, ma] = versionKey(a);
    const [tb, mb] = versionKey(b);
    if (ta !== tb) return ta > tb;
    if (ma !== mb) return ma > mb;
    return (ids[a.idIndex] as string) > (ids[b.idIndex] as string);
  };

  it('ends at the newest version whatever the order, duplicates and batching', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...documentTypeNames),
        fc.uniqueArray(
          fc.record({
            ts: fc.integer({ min: 1, max: 4 }),
            modified: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
            idIndex: fc.integer({ min: 0, max: 1 }),
          }),
          {
            minLength: 1,
            maxLength: 6,
            selector: (v) => `${v.ts}:${v.modified ?? -1}`,
          },
        ),
        fc.array(fc.nat(), { minLength: 0, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        async (type, rawVersions, duplicates, sortKeys, batchSize) => {
          const descriptor = documentTypes[type];
          const hasModified = 'modified' in descriptor.columns;
          const byPubkey = descriptor.key === 'pubkey';
          // Without `modified`, versions within one second cannot be ordered (documented): keep their seconds apart.
          const versions: Version[] = rawVersions
            .filter((v, i) => hasModified || rawVersions.findIndex((w) => w.ts === v.ts) === i)
            .map((v, marker) => ({ ...v, modified: hasModified ? v.modified : undefined, idIndex: byPubkey ? v.idIndex : 0, marker }));
          run += 1;
          const pubkey = pubkeyOf(1000 + run);
          const ids = [`doc-${run}-a`, `doc-${run}-b`];
          const documentOf = (v: Version): Doc => {
            const document: Doc = { ...bases[type], pubkey, id: ids[v.idIndex], marker: v.marker, _ts: v.ts };
            if (hasModified) {
              if (v.modified === undefined) delete document.modified;
              else document.modified = v.modified;
            }
            return document;
          };
          const deliveries = [...versions, ...duplicates.map((d) => versions[d % versions.length] as Version)]
            .map((v, i) => ({ v, order: sortKeys[i % sortKeys.length] as number }))
            .sort((a, b) => a.order - b.order)
            .map(({ v }) => documentOf(v));
          for (let start = 0; start < deliveries.length; start += batchSize) {
            const batch = deliveries.slice(start, start + batchSize);
            expectAccounted(await applyDocuments(db.prisma, batch, { source: 'sync' }), batch.length);
          }

          const newest = versions.reduce((best, v) => (newer(v, best, ids) ? v : best));
          const row = await rowOf(type, byPubkey ? pubkey : (ids[0] as string));
          expect((row?.extra as Doc).marker).toBe(newest.marker);
          expect(row?.id).toBe(ids[newest.idIndex]);
          // The other document of the pubkey, if it was ever delivered, waits in the quarantine at its newest version.
          const losers = versions.filter((v) => v.idIndex !== newest.idIndex);
          const { rows } = await db.pool.query<{ document: Doc | string }>('SELECT document FROM quarantine WHERE pubkey = $1', [pubkey]);
          if (losers.length === 0) {
            expect(rows).toHaveLength(0);
          } else {
            const newestLoser = losers.reduce((best, v) => (newer(v, best, ids) ? v : best));
            expect(rows).toHaveLength(1);
            expect((rows[0]?.document as Doc).marker).toBe(newestLoser.marker);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('the version rule, stated once (version-order.ts)', () => {
  const sample = dataset(40, 28);
  const baseOf = (type: DocumentType): Doc => sample.find((document) => documentTypeOf(document.type) === type) as Doc;
  /** Ids whose order differs between code points, UTF-16 units and linguistic collations. */
  const idUnit = fc.constantFrom('a', 'B', '-', 'é', '\uFFFD', '\u{1F600}', '\u{10000}');
  const versionRow = fc.record({
    cosmosTs: fc.integer({ min: 0, max: 3 }),
    modified: fc.option(fc.integer({ min: -2, max: 2 }), { nil: null }),
    id: fc.string({ unit: idUnit, minLength: 1, maxLength: 3 }),
    pubkey: fc.constantFrom(pubkeyOf(1), pubkeyOf(2)),
    // Positions disagree with times now and then: only for two versions of one document do they decide.
    cosmosLsn: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
  });
  const asRow = (v: { cosmosTs: number; modified: number | null; id: string; pubkey: string; cosmosLsn: number | null }): Row => ({
    ...v,
    extra: {},
    cosmosEtag: null,
  });

  it('ranks any two rows in PostgreSQL (the guard) exactly as the planner does in JS, positions included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...documentTypeNames),
        fc.array(fc.tuple(versionRow, versionRow), { minLength: 1, maxLength: 40 }),
        async (type, pairs) => {
          // Ids in a linguistic collation ('a' < 'B'), as a database created with en_US.utf8 (Azure's default) has
          // them: the rule must impose code point order itself. The content column `c` always differs, so the
          // guard replaces exactly when the planner's rule (`supersedes`) says a later copy wins.
          const lateral = (side: string, first: number) =>
            `CROSS JOIN LATERAL (SELECT u."${side}t" AS "cosmosTs", u."${side}m" AS "modified", u."${side}i" COLLATE "und-x-icu" AS "id",
               u."${side}p" AS "pubkey", u."${side}l" AS "cosmosLsn", NULL::text AS "awaitingCosmos", ${first} AS "c") ${side}`;
          const { rows } = await db.pool.query<{ order: number; replaces: boolean }>(
            `SELECT ${compareRowsSql(type, 'a', 'b')} AS "order", ${mayReplaceSql(type, 'a', 'b', ['c'])} AS "replaces"
             FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[])
               WITH ORDINALITY AS u("at", "am", "ai", "ap", "al", "bt", "bm", "bi", "bp", "bl", "ord")
             ${lateral('a', 1)} ${lateral('b', 2)}
             ORDER BY u."ord"`,
            [0, 1].flatMap((side) => [
              pairs.map((pair) => pair[side]?.cosmosTs),
              pairs.map((pair) => pair[side]?.modified),
              pairs.map((pair) => pair[side]?.id),
              pairs.map((pair) => pair[side]?.pubkey),
              pairs.map((pair) => pair[side]?.cosmosLsn),
            ]),
          );
          const sameOwner = (x: Row, y: Row) => documentTypes[type].key === 'pubkey' || x.pubkey === y.pubkey;
          expect(rows.map((row) => row.order)).toEqual(pairs.map(([x, y]) => Math.sign(compareVersions(type, asRow(x), asRow(y)))));
          expect(rows.map((row) => row.replaces)).toEqual(
            pairs.map(([x, y]) => sameOwner(asRow(x), asRow(y)) && supersedes(type, asRow(x), asRow(y))),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('lets a change-feed position decide between same-second versions of one document, and only then', () => {
    const version = (cosmosTs: number, modified: number | null, cosmosLsn: number | null, id = 'x', pubkey = pubkeyOf(1)) =>
      asRow({ cosmosTs, modified, cosmosLsn, id, pubkey });
    // One document, both positioned: the position decides, even against the time.
    expect(compareVersions('account-settings', version(5, null, 9), version(5, null, 8))).toBeGreaterThan(0);
    expect(compareVersions('account', version(5, 1, 8), version(5, 2, 9))).toBeLessThan(0);
    // One side without a position: the time decides; on a tie the positioned one is kept.
    expect(compareVersions('account-settings', version(5, null, null), version(5, null, 8))).toBe(0);
    expect(supersedes('account-settings', version(5, null, null), version(5, null, 8))).toBe(false);
    expect(supersedes('account-settings', version(5, null, 8), version(5, null, null))).toBe(true);
    expect(supersedes('account-settings', version(5, null, null), version(5, null, null))).toBe(true);
    // Two documents of one pubkey: never by position, so every reader ranks them the same way.
    expect(compareVersions('account', version(5, 1, 1, 'b'), version(5, 1, 9, 'a'))).toBeGreaterThan(0);
  });

  it('ranks a quarantined document against a written row in PostgreSQL exactly as the quarantine does in JS', async () => {
    const anyModified = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.integer({ min: -2, max: 2 }),
      fc.constantFrom(1.5, -1.5, '2', true, { at: 2 }),
    );
    const entry = fc.record({
      ts: fc.integer({ min: 0, max: 3 }),
      modified: anyModified,
      lsn: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...documentTypeNames),
        fc.array(fc.tuple(entry, entry), { minLength: 1, maxLength: 30 }),
        async (type, pairs) => {
          const withVersion = (version: { ts: number; modified: unknown; lsn: number | undefined }): Doc => {
            const document: Doc = { ...baseOf(type), _ts: version.ts, modified: version.modified, _lsn: version.lsn };
            if (version.modified === undefined) delete document.modified;
            if (version.lsn === undefined) delete document._lsn;
            return document;
          };
          // The written side must map: where the type has a `modified` column, only a whole number (or none) does.
          const mappable = pairs.filter(([, written]) => documentToRow(withVersion(written)).ok);
          const quarantined = mappable.map(([q]) => withVersion(q));
          const written = mappable.map(([, w]) => (documentToRow(withVersion(w)) as { row: Row }).row);
          const { rows } = await db.pool.query<{ order: number }>(
            `SELECT ${compareEntryWithRowSql(type, 'q', 'r')} AS "order"
           FROM unnest($1::bigint[], $2::jsonb[], $3::bigint[], $4::bigint[], $5::jsonb[], $6::bigint[])
             WITH ORDINALITY AS u("qt", "qd", "rt", "rm", "re", "rl", "ord")
           CROSS JOIN LATERAL (SELECT u."qt" AS "cosmosTs", u."qd" AS "document") q
           CROSS JOIN LATERAL (SELECT u."rt" AS "cosmosTs", u."rm" AS "modified", u."re" AS "extra", u."rl" AS "cosmosLsn") r
           ORDER BY u."ord"`,
            [
              quarantined.map((document) => document._ts),
              quarantined.map((document) => JSON.stringify(document)),
              written.map((row) => row.cosmosTs),
              written.map((row) => (typeof row.modified === 'number' ? row.modified : null)),
              written.map((row) => JSON.stringify(row.extra)),
              written.map((row) => row.cosmosLsn),
            ],
          );
          const expected = mappable.map((_, i) =>
            Math.sign(
              compareDocumentVersions(
                { cosmosTs: quarantined[i]?._ts as number, document: quarantined[i] },
                {
                  cosmosTs: written[i]?.cosmosTs as number,
                  document: { ...rowToDocument(type, written[i] as Row), _lsn: written[i]?.cosmosLsn ?? undefined },
                },
              ),
            ),
          );
          expect(rows.map((row) => row.order)).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('dry runs', () => {
  let run = 0;

  it('report exactly what the write then does, whatever the rows and the quarantine hold, and change nothing', async () => {
    const shape = fc.record({
      type: fc.constantFrom(...documentTypeNames),
      pubkey: fc.nat({ max: 1 }),
      id: fc.nat({ max: 2 }),
      ts: fc.integer({ min: 1, max: 3 }),
      modified: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
      broken: fc.nat({ max: 5 }).map((n) => n === 0),
    });
    const bases = Object.fromEntries(documentTypeNames.map((type) => [type, dataset(40, 29).find((d) => documentTypeOf(d.type) === type)]));
    await fc.assert(
      fc.asyncProperty(fc.array(shape, { minLength: 1, maxLength: 12 }), fc.nat(), async (shapes, split) => {
        run += 1;
        const documents = shapes.map((s): Doc => {
          const document: Doc = { ...bases[s.type], pubkey: pubkeyOf(2000 + 2 * run + s.pubkey), id: `dry-${run}-${s.id}`, _ts: s.ts };
          if (s.modified === undefined) delete document.modified;
          else document.modified = s.modified;
          if (s.broken) document.created = 'yesterday';
          return document;
        });
        // What is already there: some of the documents, applied for real (rows, displaced rows, quarantine entries).
        await applyDocuments(db.prisma, documents.slice(0, split % documents.length), { source: 'sync' });
        const before = await snapshotTables(db.pool);
        const batch = [...documents].reverse();
        const dry = await applyDocuments(db.prisma, batch, { source: 'migration', dryRun: true });
        expect(await snapshotTables(db.pool)).toEqual(before);
        expect(await applyDocuments(db.prisma, batch, { source: 'migration' })).toEqual(dry);
      }),
      { numRuns: 30 },
    );
  });
});

describe('throughput (reported, not asserted)', () => {
  it('applies a large generated dataset', async () => {
    const documents = dataset(Number(process.env.BULK_UPSERT_USERS ?? 500), 24);
    const started = performance.now();
    for (let start = 0; start < documents.length; start += 1000) {
      await applyDocuments(db.prisma, documents.slice(start, start + 1000), { source: 'migration' });
    }
    const seconds = (performance.now() - started) / 1000;
    console.info(
      `applyDocuments: ${documents.length} documents in ${seconds.toFixed(2)} s = ${Math.round(documents.length / seconds)} docs/s`,
    );
    expect(Object.values(await countRows(db.pool)).reduce((a, b) => a + b)).toBe(documents.length);
  });
});
