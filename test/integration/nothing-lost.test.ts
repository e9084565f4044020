import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type Doc, type DocumentShape, documentShapes, goodPayments, newMarker } from '../support/document-shapes.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * Issue 9, "Done means" 1: each document shape that used to stop its page, batch or message for ever, alone and
 * in a page of 60 good documents, through the three ways documents reach PostgreSQL: the migration's page path
 * (`applyDocuments` with the engine's `beforeCommit`, whose checkpoint must commit with the page), the sync
 * handler (the `cosmosSync` callback, given what the trigger delivers) and the queue (a `documents` resync
 * message through the queue function). Every time: the good documents are written, each bad one is quarantined
 * once with a reason naming what is wrong with it, and the call completes (nothing to resume, nothing poisoned).
 */

let app: FunctionAppEnvironment;

beforeAll(async () => {
  app = await startFunctionAppEnvironment();
  // What the engine saves in `beforeCommit`: here a row per page, so a test sees the page's commit.
  await app.db.pool.query('CREATE TABLE "test_pages" ("marker" text NOT NULL, "documents" int NOT NULL)');
});
afterAll(() => app?.stop());

const pubkeyOf = (marker: string) => `${marker}${'0'.repeat(64 - marker.length)}`;

/** A document as the change feed delivers it: with the system properties Cosmos adds, a position among them. */
function delivered(document: Doc, lsn: number): Doc {
  return {
    ...document,
    _rid: 'AbCdEf==',
    _self: 'dbs/x/colls/y/docs/z/',
    _etag: '"00000000-0000"',
    _attachments: 'attachments/',
    _ts: 1_700_000_000,
    _lsn: lsn,
  };
}

/** Writes a document to Cosmos and returns it as Cosmos gives it back. */
async function stored(document: Doc): Promise<Doc> {
  const { resource } = await app.container.items.upsert(document);
  return resource as Doc;
}

interface Case {
  marker: string;
  good: Doc[];
  bad: Doc[];
}

function caseOf(shape: DocumentShape, goodCount: number): Case {
  const marker = newMarker();
  const pubkey = pubkeyOf(marker);
  return { marker, good: goodPayments(pubkey, marker, goodCount), bad: shape.make(pubkey, marker) };
}

/** Good first half, the bad ones, good second half: the bad ones in the middle of the page. */
function page(good: Doc[], bad: Doc[]): Doc[] {
  const half = Math.floor(good.length / 2);
  return [...good.slice(0, half), ...bad, ...good.slice(half)];
}

interface QuarantineRow {
  key: string;
  reason: string;
  reasonCode: string;
  document: unknown;
}

async function quarantinedWith(marker: string): Promise<QuarantineRow[]> {
  const { rows } = await app.db.pool.query<QuarantineRow>(
    `SELECT "key", "reason", "reasonCode", "document" FROM "quarantine" WHERE "document"::text LIKE '%' || $1 || '%' ORDER BY "key"`,
    [marker],
  );
  return rows;
}

/** The stored document back as a value: a JSONB document, or the JSON text kept for one PostgreSQL cannot hold. */
function storedDocument(row: QuarantineRow): unknown {
  return typeof row.document === 'string' ? JSON.parse(row.document) : row.document;
}

async function expectOutcome(shape: DocumentShape, { marker, good }: Case, expectedBad: Doc[]): Promise<void> {
  const { rows } = await app.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM "payments" WHERE "id" = ANY($1::text[])', [
    good.map((document) => document.id as string),
  ]);
  expect(rows[0]?.n).toBe(good.length);
  const entries = await quarantinedWith(marker);
  expect(entries).toHaveLength(expectedBad.length);
  expect(new Set(entries.map((entry) => entry.key)).size).toBe(expectedBad.length);
  for (const entry of entries) {
    expect(entry.reasonCode).toBe(shape.reasonCode);
    expect(entry.reason).toMatch(shape.reason);
  }
  // Kept exactly: the same documents, whatever order the keys put them in.
  const kept = entries.map(storedDocument);
  for (const document of expectedBad) expect(kept).toContainEqual(document);
}

describe.each(documentShapes)('$name', (shape) => {
  describe.each([
    { where: 'alone', goodCount: 0 },
    { where: 'in a page of 60 good documents', goodCount: 60 },
  ])('$where', ({ goodCount }) => {
    test('through the migration: the page and its checkpoint commit', async () => {
      const current = caseOf(shape, goodCount);
      const documents = page(current.good, current.bad).map((document, index) => delivered(document, index + 1));
      const result = await applyDocuments(app.db.prisma, documents, {
        source: 'migration',
        beforeCommit: async (tx) => {
          await tx.$executeRawUnsafe('INSERT INTO "test_pages" ("marker", "documents") VALUES ($1, $2)', current.marker, documents.length);
        },
      });
      expect(result.written).toBe(goodCount);
      expect(result.quarantined + result.failed).toBe(current.bad.length);
      const { rows } = await app.db.pool.query('SELECT "documents" FROM "test_pages" WHERE "marker" = $1', [current.marker]);
      expect(rows).toEqual([{ documents: documents.length }]);
      await expectOutcome(
        shape,
        current,
        documents.filter((document) => document.marker === current.marker),
      );
    });

    test('through the sync handler: the batch is applied, not deferred', async () => {
      const current = caseOf(shape, goodCount);
      const good = await Promise.all(current.good.map(stored));
      const bad =
        shape.delivery === 'cosmos' ? await Promise.all(current.bad.map(stored)) : current.bad.map((document) => delivered(document, 1));
      await app
        .registration('cosmosSync')
        .callback(page(good, bad), app.context('cosmosSync', { retryContext: { retryCount: 0, maxRetryCount: 5 } }));
      expect(await app.queues.main.peekMessages({ numberOfMessages: 32 })).toMatchObject({ peekedMessageItems: [] });
      await expectOutcome(shape, current, bad);
    });

    test('through the queue: the resync message completes, nothing is poisoned', async () => {
      const current = caseOf(shape, goodCount);
      const good = await Promise.all(current.good.map(stored));
      const bad =
        shape.delivery === 'cosmos' ? await Promise.all(current.bad.map(stored)) : current.bad.map((document) => delivered(document, 1));
      const entry = (document: Doc) =>
        shape.delivery === 'whole' && bad.includes(document)
          ? { raw: JSON.stringify(document) }
          : { id: document.id, partitionKey: document.pubkey, ts: document._ts };
      await app.queues.main.sendMessage(JSON.stringify({ kind: 'documents', documents: page(good, bad).map(entry) }));
      expect(await app.drain()).toMatchObject({ completed: 1, failures: 0, poisoned: 0 });
      await expectOutcome(shape, current, bad);
    });
  });
});
