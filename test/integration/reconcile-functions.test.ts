import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { lastReconcilePass } from '../../shared/migration/reconcile-passes.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * `POST /api/migration/reconcile` and the queue's `reconcile` message, through the app's registrations: the
 * route queues a pass, the migration queue function runs it (dry run, then with `apply`), stats show it, and a
 * redelivered message does not run a completed pass again.
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

async function remaining(): Promise<number> {
  let found = 0;
  for (const document of deleted) {
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
