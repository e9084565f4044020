import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { demoDocuments } from '../../dev/sample-data/demo-dataset.js';
import { listFeedRanges, rangeKey } from '../../shared/cosmos/feed-ranges.js';
import { documentTypeNames, documentTypeOf } from '../../shared/domain/document-types.js';
import { createPrismaClient, type PrismaClient } from '../../shared/postgres/prisma-client.js';
import { useServices } from '../../shared/runtime/services.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';
import { truncateAll } from './fixtures/migration-tables.js';

/**
 * The HTTP functions, invoked for real through their registrations: each request is routed the way the
 * host routes it (the registered route template under /api, the registered method), and the handler's
 * answer is read back through @azure/functions' HttpResponse, as the host would serialise it.
 */

let app: FunctionAppEnvironment;
/** What Cosmos accepted of a generated dataset (it refuses a few of the deliberately broken documents). */
let documents: Array<Record<string, unknown>>;

beforeAll(async () => {
  app = await startFunctionAppEnvironment({ MIGRATION_MODE: 'true' });
  const generated = [...demoDocuments(6, 21)];
  const { refused } = await loadDocuments(app.container, generated);
  documents = generated.filter((document) => !refused.some((refusal) => refusal.id === document.id));
});
afterAll(() => app?.stop());
// The Cosmos documents are read-only; every test starts from empty tables, no runs and an empty queue.
beforeEach(async () => {
  app.restoreServices();
  await Promise.all([truncateAll(app.db.pool), app.queues.main.clearMessages()]);
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

/** Finds the function whose route and method match, as the host does, and invokes it. */
async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const segments = path.replace(/^\/api\//, '').split('/');
  for (const registration of app.registrations.values()) {
    const trigger = Object.values(registration.metadata.bindings).find((binding) => binding.type === 'httpTrigger');
    if (!trigger || !(trigger.methods as string[]).includes(method)) continue;
    const template = String(trigger.route).split('/');
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = template.every((part, index) => {
      const segment = segments[index] as string;
      if (part.startsWith('{') && part.endsWith('}')) {
        params[part.slice(1, -1)] = decodeURIComponent(segment);
        return true;
      }
      return part === segment;
    });
    if (!matches) continue;
    const request = new HttpRequest({
      method,
      url: `http://localhost:7071${path}`,
      params,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : { string: typeof body === 'string' ? body : JSON.stringify(body) },
    });
    const init = (await registration.callback(request, app.context(registration.metadata.name))) as HttpResponseInit;
    const response = new HttpResponse(init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as Record<string, unknown> };
  }
  throw new Error(`no function answers ${method} ${path}`);
}

/** A PostgreSQL URL nothing listens on, with a password that must never show in an answer. */
async function refusingDatabase(): Promise<{ url: string; prisma: PrismaClient; password: string }> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const password = 'never-show-this-9f2c';
  const url = `postgresql://postgres:${password}@127.0.0.1:${port}/nostria`;
  return { url, prisma: createPrismaClient(url, 1), password };
}

function expectNoLeak(answer: Answer, ...secrets: string[]): void {
  for (const secret of secrets) expect(answer.text).not.toContain(secret);
  expect(answer.text).not.toMatch(/\n\s+at /);
}

const userPubkey = () => documents.find((document) => document.type === 'account')?.pubkey as string;

describe('GET /api/health', () => {
  test('200 with both databases healthy and their latency', async () => {
    const answer = await call('GET', '/api/health');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 'healthy',
      cosmos: { healthy: true, latencyMs: expect.any(Number) },
      postgres: { healthy: true, latencyMs: expect.any(Number) },
    });
  });

  test('503 when PostgreSQL is down, saying why without the password', async () => {
    const down = await refusingDatabase();
    app.useServices({ config: { databaseUrl: down.url }, prisma: down.prisma });
    try {
      const answer = await call('GET', '/api/health');
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({
        status: 'unhealthy',
        cosmos: { healthy: true },
        postgres: { healthy: false, error: expect.stringContaining('reach database server') },
      });
      expectNoLeak(answer, down.password);
    } finally {
      app.restoreServices();
      await down.prisma.$disconnect();
    }
  });

  test('503 when Cosmos is not configured, naming the settings', async () => {
    useServices({ config: { ...app.config, cosmos: undefined }, prisma: app.db.prisma });
    try {
      const answer = await call('GET', '/api/health');
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({
        cosmos: { healthy: false, error: expect.stringContaining('AZURE_COSMOSDB_CONNECTION_STRING') },
        postgres: { healthy: true },
      });
    } finally {
      app.restoreServices();
    }
  });
});

describe('GET /api/migration/stats', () => {
  test('200 with counts keyed by Cosmos type on both sides, quarantine and progress', async () => {
    const answer = await call('GET', '/api/migration/stats');
    expect(answer.status).toBe(200);
    const expected = Object.fromEntries(
      documentTypeNames.map((type) => [type, documents.filter((document) => documentTypeOf(document.type) === type).length]),
    );
    expect(answer.body.cosmos).toEqual(expected);
    expect(answer.body.postgres).toEqual(Object.fromEntries(documentTypeNames.map((type) => [type, 0])));
    expect(answer.body).toMatchObject({ quarantined: 0, progress: expect.objectContaining({ account: 0 }) });
  });

  test('503 naming the missing setting, never a value', async () => {
    useServices({ config: { ...app.config, databaseUrl: undefined }, cosmos: app.container });
    try {
      const answer = await call('GET', '/api/migration/stats');
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({ error: 'not configured: DATABASE_URL', code: 'CONFIG_INVALID' });
    } finally {
      app.restoreServices();
    }
  });

  test('500 for an unexpected failure, with the invocation id to find the log by and no stack trace', async () => {
    const down = await refusingDatabase();
    app.useServices({ config: { databaseUrl: down.url }, prisma: down.prisma });
    const logsBefore = app.logs.length;
    try {
      const answer = await call('GET', '/api/migration/stats');
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({ error: 'internal error', invocationId: expect.stringMatching(/^test-/) });
      expectNoLeak(answer, down.password);
      const logged = app.logs.slice(logsBefore).filter((log) => log.level === 'error' && log.message.startsWith('request failed'));
      expect(logged.at(-1)?.message).toMatch(/reach database server/);
      expect(logged.every((log) => !log.message.includes(down.password))).toBe(true);
    } finally {
      app.restoreServices();
      await down.prisma.$disconnect();
    }
  });
});

describe('POST /api/migration/start', () => {
  test.each([
    ['no body', undefined, /expected a JSON body/],
    ['a body that is not JSON', '{kind: full', /not valid JSON/],
    ['an unknown kind', { kind: 'everything' }, /kind: /],
    ['an unknown document type', { kind: 'type', documentType: 'invoice' }, /documentType: /],
    ['a malformed pubkey', { kind: 'user', pubkey: 'npub1abc' }, /pubkey: expected a 64-character hex public key/],
    ['a batch size of 0', { kind: 'full', batchSize: 0 }, /batchSize: /],
    ['an unknown field', { kind: 'full', force: true }, /force/],
  ])('400 for %s, with the reason', async (_what, body, reason) => {
    const answer = await call('POST', '/api/migration/start', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(reason);
  });

  test('409 for a run that would write while MIGRATION_MODE is off; a dry run is accepted and not recorded', async () => {
    app.useServices({ config: { migrationMode: false } });
    try {
      const refused = await call('POST', '/api/migration/start', { kind: 'full' });
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatch(/MIGRATION_MODE=true/);
      const dry = await call('POST', '/api/migration/start', { kind: 'type', documentType: 'account', dryRun: true });
      expect(dry.status).toBe(202);
      expect(dry.body).toEqual({ runId: expect.any(String), dryRun: true, recorded: false, statusUrl: null });
      expect(await app.db.prisma.migrationRun.count()).toBe(0);
      expect((await app.drain()).failures).toBe(0);
    } finally {
      app.restoreServices();
    }
    expect(await app.db.prisma.account.count()).toBe(0);
  });

  test('503 and the run marked failed when the queue is not configured', async () => {
    app.useServices({ config: { queue: undefined } });
    try {
      const answer = await call('POST', '/api/migration/start', { kind: 'full' });
      expect(answer.status).toBe(503);
      expect(answer.body.error).toMatch(/^not configured: AzureWebJobsStorage/);
    } finally {
      app.restoreServices();
    }
    const runs = await app.db.prisma.migrationRun.findMany();
    expect(runs).toEqual([expect.objectContaining({ state: 'failed', error: expect.stringMatching(/^could not enqueue: /) })]);
  });
});

describe('a run from start to finish, over HTTP', () => {
  test('GET /api/migration/verify/{pubkey}: 400 for a malformed pubkey', async () => {
    for (const pubkey of ['not-a-pubkey', 'a'.repeat(63), `${'a'.repeat(63)}g`]) {
      const answer = await call('GET', `/api/migration/verify/${pubkey}`);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/pubkey/);
    }
  });

  test('verify answers 200 with consistent: false before the migration', async () => {
    const answer = await call('GET', `/api/migration/verify/${userPubkey()}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ pubkey: userPubkey(), consistent: false });
    expect(answer.body.differences).toContainEqual(expect.objectContaining({ type: 'account', kind: 'missing-in-postgres' }));
  });

  test('start answers 202 with the run id and its status URL; the queue does the work; the run reports its parts', async () => {
    const started = await call('POST', '/api/migration/start', { kind: 'full', batchSize: 10 });
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;
    expect(started.body).toEqual({ runId, dryRun: false, recorded: true, statusUrl: `/api/migration/runs/${runId}` });
    expect(started.headers.get('location')).toBe(`/api/migration/runs/${runId}`);

    const pending = await call('GET', `/api/migration/runs/${runId}`);
    expect(pending.status).toBe(200);
    expect(pending.body).toMatchObject({ id: runId, kind: 'full', state: 'running', partsDone: 0 });

    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    const finished = await call('GET', `/api/migration/runs/${runId}`);
    // One part per feed range of the container (4 physical partitions), as listed when the run started.
    const ranges = (await listFeedRanges(app.container)).map(rangeKey);
    expect(finished.body).toMatchObject({ state: 'completed', reader: 'change-feed', partsDone: ranges.length, error: null });
    expect((finished.body.parts as Array<{ part: string }>).map((part) => part.part)).toEqual(ranges);
    const counters = finished.body.counters as { processed: number; requestUnits: number; throttled: number };
    expect(counters).toMatchObject({ processed: documents.length, throttled: 0 });
    expect(counters.requestUnits).toBeGreaterThan(0);
    const stats = await call('GET', '/api/migration/stats');
    expect(stats.body.lastRun).toMatchObject({ id: runId, requestUnits: counters.requestUnits, throttled: 0 });

    const verified = await call('GET', `/api/migration/verify/${userPubkey()}`);
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ consistent: true, differences: [] });
  });

  test('per-type and per-user runs', async () => {
    const byType = await call('POST', '/api/migration/start', { kind: 'type', documentType: 'payment' });
    const byUser = await call('POST', '/api/migration/start', { kind: 'user', pubkey: userPubkey() });
    expect([byType.status, byUser.status]).toEqual([202, 202]);
    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    const typeRun = await call('GET', `/api/migration/runs/${byType.body.runId as string}`);
    // A type is read from the change feed too, range by range, keeping its documents.
    const payments = documents.filter((document) => documentTypeOf(document.type) === 'payment').length;
    expect(typeRun.body).toMatchObject({ kind: 'type', state: 'completed', counters: expect.objectContaining({ processed: payments }) });
    expect((typeRun.body.parts as Array<{ done: boolean }>).every((part) => part.done)).toBe(true);
    expect(await app.db.prisma.payment.count()).toBeGreaterThan(0);
    expect(await app.db.prisma.account.count({ where: { pubkey: { not: userPubkey() } } })).toBe(0);
    const userRun = await call('GET', `/api/migration/runs/${byUser.body.runId as string}`);
    expect(userRun.body).toMatchObject({
      kind: 'user',
      state: 'completed',
      pubkey: userPubkey(),
      parts: [expect.objectContaining({ part: 'all', done: true })],
    });
  });

  test('GET /api/migration/runs/{runId}: 404 for an unknown run, 400 for a malformed id', async () => {
    const unknown = await call('GET', '/api/migration/runs/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no migration run/);
    const malformed = await call('GET', `/api/migration/runs/${encodeURIComponent('not a run id')}`);
    expect(malformed.status).toBe(400);
  });
});
