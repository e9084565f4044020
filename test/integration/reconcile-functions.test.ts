import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { findPassPosition, lastReconcilePass } from '../../shared/migration/reconcile-passes.js';
import { countReconcileRows } from '../../shared/postgres/reconcile-rows.js';
import { reconcileFromMessage, reconcilePagesPerStep } from '../../shared/queue/reconcile-message.js';
import { type MigrationMessageInput, parseMigrationMessage } from '../../shared/storage-queue/messages.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * `POST /api/migration/reconcile` and the queue's `reconcile` message, through the app's registrations: the
 * route queues a pass, the migration queue function runs it (dry run, then with `apply`) as a chain of steps of a
 * few pages each, stats show it, and a redelivered message (of a step, or of a completed pass) does nothing again.
 */

type Doc = Record<string, unknown>;

let app: FunctionAppEnvironment;
let documents: Doc[];
let deleted: Doc[];

beforeAll(async () => {
  app = await startFunctionAppEnvironment({ MIGRATION_MODE: 'true' });
  documents = [...generateDataset({ users: 20, seed: 5 })];
  expect((await loadDocuments(app.container, documents)).refused).toEqual([]);
  await migrateAll({ prisma: app.db.prisma, cosmos: app.container, config: app.config });
  deleted = documents.filter((_, index) => index % 10 === 3);
  for (const document of deleted) await app.container.item(String(document.id), String(document.pubkey)).delete();
});
afterAll(() => app?.stop());

async function post(body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/migration/reconcile',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: { string: body } }),
  });
  const init = (await app.registration('migrationReconcile').callback(request, app.context('migrationReconcile'))) as HttpResponseInit;
  const response = new HttpResponse(init);
  return { status: response.status, body: JSON.parse(await response.text()) as Record<string, unknown> };
}

async function remaining(documentsGone: readonly Doc[] = deleted): Promise<number> {
  let found = 0;
  for (const document of documentsGone) {
    const type = documentTypeOf(document.type);
    if (!type) throw new Error(`no type for ${String(document.id)}`);
    const { rows } = await app.db.pool.query(`SELECT 1 FROM "${documentTypes[type].table}" WHERE id = $1`, [document.id]);
    found += rows.length;
  }
  return found;
}

test('400 for a body that is not a reconcile request; 409 for apply without MIGRATION_MODE or with PostgreSQL primary', async () => {
  expect(await post('{"apply":"yes"}')).toMatchObject({ status: 400 });
  expect(await post('{"apply":true,"everything":true}')).toMatchObject({ status: 400 });
  expect(await post('not json')).toMatchObject({ status: 400, body: { error: expect.stringContaining('not valid JSON') } });
  app.useServices({ config: { migrationMode: false } });
  try {
    expect(await post('{"apply":true}')).toMatchObject({ status: 409 });
    app.useServices({ config: { usePostgres: true } });
    expect(await post('{"apply":true}')).toMatchObject({ status: 409, body: { error: expect.stringContaining('USE_POSTGRESQL') } });
  } finally {
    app.restoreServices();
  }
  expect(await app.queues.main.peekMessages()).toMatchObject({ peekedMessageItems: [] });
});

test('a dry run, then apply: the queue runs each pass, stats show the last, and a redelivery does not run it again', async () => {
  const dry = await post();
  expect(dry).toMatchObject({ status: 202, body: { passId: expect.any(String), dryRun: true } });
  expect(await app.drain()).toMatchObject({ completed: 1, failures: 0, poisoned: 0 });
  expect(await lastReconcilePass(app.db.prisma)).toMatchObject({
    id: dry.body.passId,
    state: 'completed',
    dryRun: true,
    candidates: deleted.length,
    confirmed: deleted.length,
    removed: 0,
  });
  expect(await remaining()).toBe(deleted.length);

  const applied = await post(JSON.stringify({ apply: true, batchSize: 50 }));
  expect(applied).toMatchObject({ status: 202, body: { passId: expect.any(String), dryRun: false } });
  const logsBefore = app.logs.length;
  // Delivered twice: the second delivery finds the pass completed and does nothing.
  expect(await app.drain({ duplicate: (text) => text.includes('"kind":"reconcile"') })).toMatchObject({ failures: 0, poisoned: 0 });
  expect(await remaining()).toBe(0);
  const { rows } = await app.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM reconciled_deletes WHERE "passId" = $1', [
    applied.body.passId,
  ]);
  expect(rows[0]?.n).toBe(deleted.length);
  const lines = app.logs.slice(logsBefore).map((log) => log.message);
  expect(lines.filter((line) => line.includes(`reconcile pass ${String(applied.body.passId)}: completed already`))).toHaveLength(1);
  expect(lines.some((line) => new RegExp(`${deleted.length} confirmed gone, ${deleted.length} removed`).test(line))).toBe(true);

  const stats = (await app
    .registration('migrationStats')
    .callback(
      new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/migration/stats' }),
      app.context('migrationStats'),
    )) as HttpResponseInit;
  const body = JSON.parse(await new HttpResponse(stats).text()) as { lastReconcile: Record<string, unknown> };
  expect(body.lastReconcile).toMatchObject({ id: applied.body.passId, dryRun: false, removed: deleted.length });
});

/** Deletes from Cosmos the documents whose index in the dataset leaves `remainder` modulo 10; returns them. */
async function deleteInCosmos(remainder: number): Promise<Doc[]> {
  const chosen = documents.filter((_, index) => index % 10 === remainder);
  for (const document of chosen) await app.container.item(String(document.id), String(document.pubkey)).delete();
  return chosen;
}

async function auditedRows(passId: unknown): Promise<number> {
  const { rows } = await app.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM reconciled_deletes WHERE "passId" = $1', [
    passId,
  ]);
  return rows[0]?.n ?? -1;
}

test('a pass of several steps runs as a chain of messages, each delivered twice, and removes each deleted row once', async () => {
  const gone = await deleteInCosmos(6);
  const rowsBefore = await countReconcileRows(app.db.prisma);
  const batchSize = 2;
  // Enough rows for at least three steps, so the chain has a middle as well as ends.
  expect(rowsBefore).toBeGreaterThan(2 * reconcilePagesPerStep * batchSize);
  const applied = await post(JSON.stringify({ apply: true, batchSize }));
  expect(applied).toMatchObject({ status: 202, body: { dryRun: false } });
  const passId = String(applied.body.passId);

  const receipts = new Map<string, number>();
  const logsBefore = app.logs.length;
  const drained = await app.drain({
    duplicate: (text) => {
      receipts.set(text, (receipts.get(text) ?? 0) + 1);
      return true;
    },
  });
  const lines = app.logs.slice(logsBefore).map((log) => log.message);

  expect(drained).toMatchObject({ failures: 0, poisoned: 0 });
  const steps = [...receipts.keys()].map((text) => parseMigrationMessage(JSON.parse(text)));
  expect(steps.every((message) => message.kind === 'reconcile' && message.passId === passId)).toBe(true);
  expect(steps.length).toBeGreaterThanOrEqual(3);
  // Each step's message reached the function twice; every second delivery found its step taken and did nothing.
  expect(drained.completed).toBe(2 * steps.length);
  expect(lines.filter((line) => line.includes(`reconcile pass ${passId} step `) && line.includes('nothing to do'))).toHaveLength(
    steps.length - 1,
  );
  expect(lines.filter((line) => line.includes(`reconcile pass ${passId}: completed already`))).toHaveLength(1);
  const completed = lines.filter((line) => line.includes(`reconcile pass ${passId} step `) && line.endsWith('; completed'));
  expect(completed).toHaveLength(1);
  // The step that finished the walk swept the quarantine's open entries too.
  expect(completed[0]).toMatch(/; quarantine: \d+ open entr\(ies\) checked, 0 gone from Cosmos, 0 closed; completed$/);

  // Every row compared once, each deleted document removed once and audited once, nothing else touched.
  expect(await lastReconcilePass(app.db.prisma)).toMatchObject({
    id: passId,
    state: 'completed',
    scanned: rowsBefore,
    candidates: gone.length,
    confirmed: gone.length,
    removed: gone.length,
    keptRecreated: 0,
    keptChanged: 0,
  });
  expect(await remaining(gone)).toBe(0);
  expect(await auditedRows(passId)).toBe(gone.length);
  expect(await countReconcileRows(app.db.prisma)).toBe(rowsBefore - gone.length);
  expect(await findPassPosition(app.db.prisma, passId)).toMatchObject({ step: steps.length - 1 });
});

test('a step delivered after the pass moved past it does nothing; one step delivered twice at once is done once', async () => {
  const gone = await deleteInCosmos(8);
  const rowsBefore = await countReconcileRows(app.db.prisma);
  const services = { prisma: app.db.prisma, cosmos: app.container, config: app.config };
  const queued: MigrationMessageInput[] = [];
  const withdrawn: string[] = [];
  const handling = {
    services,
    enqueue: (messages: readonly MigrationMessageInput[]) => {
      queued.push(...messages);
      return Promise.resolve(messages.map((_, index) => ({ messageId: `sent-${queued.length - index}`, popReceipt: 'receipt' })));
    },
    withdraw: (sent: { messageId: string }) => {
      withdrawn.push(sent.messageId);
      return Promise.resolve();
    },
  };
  const passId = 'reconcile-step-test';
  const first = parseMigrationMessage({ kind: 'reconcile', passId, apply: true, batchSize: 2 });
  if (first.kind !== 'reconcile') throw new Error('not a reconcile message');

  expect(await reconcileFromMessage(handling, first)).toMatchObject({ kind: 'reconcile', step: 0, next: 1 });
  expect(queued).toHaveLength(1);
  const taken = await findPassPosition(app.db.prisma, passId);
  expect(taken).toMatchObject({ state: 'running', step: 1, counts: { scanned: reconcilePagesPerStep * 2 } });

  // The first step again (a late redelivery): the pass is past it, so nothing is read, removed, counted or queued.
  expect(await reconcileFromMessage(handling, first)).toMatchObject({ kind: 'reconcile-duplicate', passId, step: 0 });
  expect(await findPassPosition(app.db.prisma, passId)).toEqual(taken);
  expect(queued).toHaveLength(1);

  // The second step twice at once: one delivery does it and queues step 2; the other does nothing, or takes back its successor.
  const second = parseMigrationMessage(queued[0]);
  if (second.kind !== 'reconcile') throw new Error('not a reconcile message');
  expect(second).toMatchObject({ step: 1, cursor: taken?.cursor });
  const both = await Promise.all([reconcileFromMessage(handling, second), reconcileFromMessage(handling, second)]);
  expect(both.map((outcome) => outcome.kind).sort()).toEqual(['reconcile', 'reconcile-duplicate']);
  const liveSuccessors = queued.filter((message, index) => index > 0 && !withdrawn.includes(`sent-${index + 1}`));
  expect(liveSuccessors).toHaveLength(1);

  // The rest of the chain, one message at a time, to the end.
  let next = liveSuccessors[0];
  for (let hops = 0; next !== undefined; hops += 1) {
    if (hops > 100) throw new Error('the chain did not end');
    const message = parseMigrationMessage(next);
    if (message.kind !== 'reconcile') throw new Error('not a reconcile message');
    const before = queued.length;
    const outcome = await reconcileFromMessage(handling, message);
    next = queued.length > before ? queued.at(-1) : undefined;
    if (next === undefined) expect(outcome).toMatchObject({ kind: 'reconcile', outcome: { done: true } });
  }
  expect(await lastReconcilePass(app.db.prisma)).toMatchObject({
    id: passId,
    state: 'completed',
    scanned: rowsBefore,
    candidates: gone.length,
    confirmed: gone.length,
    removed: gone.length,
  });
  expect(await remaining(gone)).toBe(0);
  expect(await auditedRows(passId)).toBe(gone.length);
  expect(await reconcileFromMessage(handling, first)).toEqual({ kind: 'reconcile-done', passId });
});
