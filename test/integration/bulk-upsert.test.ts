import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { generateInvalidDocuments } from '../../dev/sample-data/generate-invalid-documents.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { normalizeDocument, rowToDocument } from '../../shared/domain/mapping.js';
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
