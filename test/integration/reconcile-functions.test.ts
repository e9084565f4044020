import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { findPassRange, loadPassRanges } from '../../shared/migration/pass-ranges.js';
import { lastReconcilePass } from '../../shared/migration/reconcile-passes.js';
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
  // The start, then one step for each of the 4 ranges (a few dozen documents each, one page).
  expect(await app.drain()).toMatchObject({ completed: 5, failures: 0, poisoned: 0 });
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
  // The step that completed the pass says so, with its totals, once; a message delivered after that does nothing.
  const completions = lines.filter((line) => line.includes('; pass completed:'));
  expect(completions).toHaveLength(1);
  expect(completions[0]).toMatch(new RegExp(`${deleted.length} confirmed gone, ${deleted.length} removed$`));
  expect(lines.some((line) => line.includes(`reconcile pass ${String(applied.body.passId)}: completed already`))).toBe(true);
  const telemetry = lines.filter((line) => line.startsWith('nostria.telemetry ')).map((line) => JSON.parse(line.slice(18)) as Doc);
  expect(telemetry.filter((line) => line.event === 'reconcile.pass')).toEqual([
    expect.objectContaining({
      passId: applied.body.passId,
      dryRun: false,
      metrics: expect.objectContaining({ 'nostria.reconcile.removed': deleted.length }),
    }),
  ]);
  expect(new Set(telemetry.filter((line) => line.event === 'reconcile.range').map((line) => line.feedRange)).size).toBe(4);

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

test('a pass runs as one chain of steps per feed range, each message delivered twice, and removes each deleted row once', async () => {
  const gone = await deleteInCosmos(6);
  const rowsBefore = await countReconcileRows(app.db.prisma);
  const batchSize = 2;
  // Enough documents and rows for several steps per range, so each chain has a middle as well as ends.
  expect(rowsBefore).toBeGreaterThan(4 * reconcilePagesPerStep * batchSize);
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
  const messages = [...receipts.keys()].map((text) => parseMigrationMessage(JSON.parse(text)));
  expect(messages.every((message) => message.kind === 'reconcile' && message.passId === passId)).toBe(true);
  const steps = messages.flatMap((message) => (message.kind === 'reconcile' && message.range ? [message] : []));
  const ranges = await loadPassRanges(app.db.prisma, passId);
  expect(ranges).toHaveLength(4);
  // One chain per range: each range's steps are 0, 1, 2, ... up to the one that finished it, and each is in the record.
  for (const range of ranges) {
    const chain = [...new Set(steps.filter((message) => message.range === range.rangeKey).map((message) => message.step))].sort();
    expect(chain, range.rangeKey).toEqual(Array.from({ length: range.step + 1 }, (_, step) => step));
    expect(range.phase).toBe('done');
  }
  expect(Math.max(...ranges.map((range) => range.step))).toBeGreaterThanOrEqual(2);
  const stepLines = lines.filter((line) => line.includes(`reconcile pass ${passId} range `) && line.includes(' step '));
  expect(stepLines.filter((line) => line.includes('nothing to do')).length).toBeGreaterThan(0);
  expect(lines.filter((line) => line.includes('; pass completed:'))).toHaveLength(1);
  // The step that completed the pass swept the quarantine's open entries too.
  expect(lines.filter((line) => line.includes('; pass completed:'))[0]).toMatch(
    /; quarantine: \d+ open entr\(ies\) checked, 0 gone from Cosmos, 0 closed; pass completed:/,
  );

  // Every document read once, every row compared once, each deleted document removed once and audited once.
  expect(await lastReconcilePass(app.db.prisma)).toMatchObject({
    id: passId,
    state: 'completed',
    documents: ranges.reduce((sum, range) => sum + range.documents, 0),
    scanned: rowsBefore,
    candidates: gone.length,
    confirmed: gone.length,
    removed: gone.length,
    keptRecreated: 0,
    keptChanged: 0,
  });
  expect(ranges.reduce((sum, range) => sum + range.scanned, 0)).toBe(rowsBefore);
  expect(await remaining(gone)).toBe(0);
  expect(await auditedRows(passId)).toBe(gone.length);
  expect(await countReconcileRows(app.db.prisma)).toBe(rowsBefore - gone.length);
  // What the ranges read is scratch: forgotten once the pass completed.
  const { rows: scratch } = await app.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pass_seen_keys k JOIN pass_ranges r ON r.id = k."rangeId" WHERE r."passId" = $1',
    [passId],
  );
  expect(scratch[0]?.n).toBe(0);
});

test('a step delivered after its range moved past it does nothing; one step delivered twice at once is done once', async () => {
  const gone = await deleteInCosmos(8);
  const rowsBefore = await countReconcileRows(app.db.prisma);
  const services = { prisma: app.db.prisma, cosmos: app.container, config: app.config };
  const queued: MigrationMessageInput[] = [];
  const withdrawn: string[] = [];
  const handling = {
    services,
    enqueue: (messages: readonly MigrationMessageInput[]) => {
      queued.push(...messages);
      return Promise.resolve(
        messages.map((_, index) => ({ messageId: `sent-${queued.length - messages.length + index + 1}`, popReceipt: 'receipt' })),
      );
    },
    withdraw: (sent: { messageId: string }) => {
      withdrawn.push(sent.messageId);
      return Promise.resolve();
    },
  };
  const passId = 'reconcile-step-test';
  const reconcileMessage = (input: MigrationMessageInput) => {
    const message = parseMigrationMessage(input);
    if (message.kind !== 'reconcile') throw new Error('not a reconcile message');
    return message;
  };
  const start = reconcileMessage({ kind: 'reconcile', passId, apply: true, batchSize: 2 });

  expect(await reconcileFromMessage(handling, start)).toMatchObject({ kind: 'reconcile-started', passId });
  expect(queued).toHaveLength(4);
  const first = reconcileMessage(queued[0] as MigrationMessageInput);
  expect(first).toMatchObject({ range: expect.any(String), step: 0 });

  expect(await reconcileFromMessage(handling, first)).toMatchObject({ kind: 'reconcile', step: 0, next: 1 });
  expect(queued).toHaveLength(5);
  const taken = await findPassRange(app.db.prisma, passId, String(first.range));
  expect(taken).toMatchObject({ step: 1, phase: 'reading' });
  expect(taken?.documents).toBe(reconcilePagesPerStep * 2);

  // The first step again (a late redelivery): the range is past it, so nothing is read, removed, counted or queued.
  expect(await reconcileFromMessage(handling, first)).toMatchObject({ kind: 'reconcile-duplicate', passId, step: 0 });
  expect(await findPassRange(app.db.prisma, passId, String(first.range))).toEqual(taken);
  expect(queued).toHaveLength(5);

  // The second step twice at once: one delivery does it and queues step 2; the other does nothing, or takes back its successor.
  const second = reconcileMessage(queued[4] as MigrationMessageInput);
  expect(second).toMatchObject({ range: first.range, step: 1 });
  const both = await Promise.all([reconcileFromMessage(handling, second), reconcileFromMessage(handling, second)]);
  expect(both.map((outcome) => outcome.kind).sort()).toEqual(['reconcile', 'reconcile-duplicate']);
  const live = queued.filter((_, index) => !withdrawn.includes(`sent-${index + 1}`)).map(reconcileMessage);
  expect(live.filter((message) => message.range === first.range && message.step === 2)).toHaveLength(1);

  // Every chain to its end, one message at a time, in the order they were queued (those done above again: no-ops).
  let completed = 0;
  for (let index = 0; index < queued.length; index += 1) {
    if (index > 1000) throw new Error('the chains did not end');
    if (withdrawn.includes(`sent-${index + 1}`)) continue;
    const outcome = await reconcileFromMessage(handling, reconcileMessage(queued[index] as MigrationMessageInput));
    if (outcome.kind === 'reconcile' && outcome.passCompleted) completed += 1;
  }
  expect(completed).toBe(1);
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
  expect(await reconcileFromMessage(handling, start)).toEqual({ kind: 'reconcile-done', passId });
  expect(await reconcileFromMessage(handling, first)).toEqual({ kind: 'reconcile-done', passId });
});

test('a start with more pubkeys to hash than one message has time for queues itself, then starts the chains', async () => {
  // 6,000 pubkeys without an EPK yet (rows the full load never saw, as a service writing PostgreSQL directly leaves them).
  await app.db.pool.query(
    `INSERT INTO accounts (id, pubkey, tier, subscription, created, "cosmosTs")
     SELECT 'unhashed-' || i, 'unhashed-' || lpad(i::text, 8, '0'), 'free', '{}', 1, 1 FROM generate_series(1, 6000) AS i`,
  );
  const queued: MigrationMessageInput[] = [];
  const handling = {
    services: { prisma: app.db.prisma, cosmos: app.container, config: app.config },
    enqueue: (messages: readonly MigrationMessageInput[]) => {
      queued.push(...messages);
      return Promise.resolve(messages.map((_, index) => ({ messageId: `sent-${index}`, popReceipt: 'receipt' })));
    },
    withdraw: () => Promise.resolve(),
    // Each delivery hashes one page of pubkeys (5,000), then hands the rest on.
    hashingMs: 0,
  };
  const start = parseMigrationMessage({ kind: 'reconcile', passId: 'hashing-test' });
  if (start.kind !== 'reconcile') throw new Error('not a reconcile message');

  expect(await reconcileFromMessage(handling, start)).toEqual({ kind: 'reconcile-hashing', passId: 'hashing-test', dryRun: true });
  expect(queued).toEqual([{ kind: 'reconcile', passId: 'hashing-test', apply: false, batchSize: 1000 }]);
  const hashed = async () =>
    (await app.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM partition_key_hashes WHERE pubkey LIKE 'unhashed-%'`)).rows[0]
      ?.n;
  expect(await hashed()).toBe(5000);

  expect(await reconcileFromMessage(handling, parseMigrationMessage(queued[0]) as typeof start)).toMatchObject({
    kind: 'reconcile-started',
    ranges: expect.arrayContaining([expect.any(String)]) as string[],
  });
  expect(await hashed()).toBe(6000);
  expect(queued.slice(1).map((message) => parseMigrationMessage(message))).toHaveLength(4);
  await app.db.pool.query(`DELETE FROM accounts WHERE id LIKE 'unhashed-%'`);
});
