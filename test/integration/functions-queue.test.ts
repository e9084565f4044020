import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { poisonCommand } from '../../cli/commands/poison.js';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { demoDocuments } from '../../dev/sample-data/demo-dataset.js';
import { generateUser } from '../../dev/sample-data/generate-documents.js';
import { listFeedRanges, rangeKey } from '../../shared/cosmos/feed-ranges.js';
import { loadPositions } from '../../shared/migration/change-feed-positions.js';
import { getRunStatus } from '../../shared/migration/run-status.js';
import { getMigrationStats } from '../../shared/stats/migration-stats.js';
import { listPoisonMessages, replayPoisonMessages } from '../../shared/storage-queue/poison.js';
import { telemetryPrefix } from '../../shared/telemetry/telemetry.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { verifyUser } from '../../shared/verification/verify-user.js';
import {
  type FunctionAppEnvironment,
  maxDequeueCount,
  startFunctionAppEnvironment,
} from '../support/functions-core/function-app-environment.js';
import type { DrainResult } from '../support/functions-core/queue-host.js';
import { baseEnv, runCli } from '../support/run-cli.js';

/**
 * The migration queue function, driven only by messages on a real (Azurite) queue: the test puts plain
 * JSON text on the queue, as `az storage message put` would, and runs the host's listener loop
 * (test/support/functions-core/queue-host.ts) until the queue is empty. Failed messages are retried
 * and, after host.json's maxDequeueCount, moved to the poison queue by that loop, as the host does.
 */

let app: FunctionAppEnvironment;
let loaded: number;

/** A migration page's telemetry line, as KQL's parse_json reads it. */
interface PageLine {
  event: string;
  runId: string;
  feedRange?: string;
  documents: number;
  dryRun: boolean;
  metrics: Record<string, number>;
}

beforeAll(async () => {
  app = await startFunctionAppEnvironment({ MIGRATION_MODE: 'true' });
  const result = await loadDocuments(app.container, demoDocuments(25, 11));
  loaded = result.loaded;
});
afterAll(() => app?.stop());
// Whatever an earlier test left on either queue is not this test's.
beforeEach(async () => {
  await Promise.all([app.queues.main.clearMessages(), app.queues.poison.clearMessages()]);
});

const put = (text: string) => app.queues.main.sendMessage(text);
const ctx = () => ({ prisma: app.db.prisma, cosmos: app.container, config: app.config });

async function poisonTexts(): Promise<string[]> {
  const { peekedMessageItems } = await app.queues.poison.peekMessages({ numberOfMessages: 32 });
  return peekedMessageItems.map((item) => item.messageText);
}

describe('a full migration through the queue', () => {
  let runId: string;
  let drained: DrainResult;
  let logsOfRun: FunctionAppEnvironment['logs'];

  // The run both tests look at, made once: it is the slow part.
  beforeAll(async () => {
    await put(JSON.stringify({ kind: 'full', batchSize: 7 }));
    // Every batch message is delivered twice: duplicates must neither double the work's effect nor the counters.
    const logsBefore = app.logs.length;
    drained = await app.drain({ batchSize: 8, duplicate: (text) => text.includes('"kind":"batch"') });
    logsOfRun = app.logs.slice(logsBefore);
    const runs = await app.db.prisma.migrationRun.findMany();
    expect(runs).toHaveLength(1);
    runId = runs[0]!.id;
  });

  test('fans out one chain per feed range, pages through each in parallel, and ends consistent, with duplicate deliveries', async () => {
    expect(drained.poisoned).toBe(0);
    const ranges = (await listFeedRanges(app.container)).map(rangeKey);
    expect(ranges).toHaveLength(4);
    expect(drained.completed).toBeGreaterThan(ranges.length * 2);
    const status = await getRunStatus(app.db.prisma, runId);
    expect(status).toMatchObject({ kind: 'full', reader: 'change-feed', state: 'completed', partsDone: ranges.length });
    expect(status?.parts.map((part) => part.part)).toEqual(ranges);
    // One first page per range, on the queue at once: the chains are independent messages.
    expect(logsOfRun.find((log) => /started \d+ chain/.test(log.message))?.message).toMatch(/started 4 chain\(s\): range 0000-/);
    // Counted once each, although every page was delivered twice.
    expect(status?.counters.processed).toBe(loaded);
    expect(status?.parts.reduce((sum, part) => sum + part.processed, 0)).toBe(loaded);
    expect(status?.counters.requestUnits).toBeGreaterThan(0);
    expect(logsOfRun.some((log) => /nothing to do/.test(log.message))).toBe(true);
    // Where each range ended is where the change feed goes on from.
    expect((await loadPositions(app.db.prisma)).map((position) => position.rangeKey)).toEqual(ranges);

    // Every source document is in its table or in the quarantine, and the tables agree with Cosmos.
    const stats = await getMigrationStats(ctx());
    expect(Object.values(stats.postgres).reduce((sum, count) => sum + count, 0) + stats.quarantined).toBe(loaded);
    expect(Object.values(stats.progress).every((percent) => percent === 100)).toBe(true);
    expect(stats.quarantined).toBeGreaterThan(0);
    const report = await verifyAll(ctx());
    expect(report.missingInCosmos.count).toBe(0);
    expect(report.different.count).toBe(0);
    // verifyAll matches quarantine entries by pubkey and id, so the quarantined documents whose pubkey is
    // not a string (none, or a number) still show as missing in PostgreSQL: they are in the quarantine.
    const missing = report.missingInPostgres.listed.map((document) => document.id);
    expect(missing).toHaveLength(report.missingInPostgres.count);
    const quarantined = await app.db.prisma.quarantinedDocument.findMany({
      where: { documentId: { in: missing } },
      select: { documentId: true, pubkey: true },
    });
    expect(quarantined.map((entry) => entry.documentId).sort()).toEqual([...missing].sort());
    expect(report.missingInPostgres.listed.every((document) => !/^[0-9a-f]{64}$/.test(document.pubkey))).toBe(true);
  });

  test('reports each committed page once, with its run, feed range, counts, request units and 429s', async () => {
    const pages = logsOfRun
      .filter((log) => log.message.startsWith(telemetryPrefix))
      .map((log) => JSON.parse(log.message.slice(telemetryPrefix.length)) as PageLine)
      .filter((line) => line.event === 'migration.page');
    const status = await getRunStatus(app.db.prisma, runId);
    const ranges = (await listFeedRanges(app.container)).map(rangeKey);
    expect(new Set(pages.map((line) => line.runId))).toEqual(new Set([runId]));
    expect(new Set(pages.map((line) => line.feedRange))).toEqual(new Set(ranges));
    // Duplicate deliveries commit nothing and report nothing: the lines add up to the run's own counters.
    const total = (metric: string) => pages.reduce((sum, line) => sum + (line.metrics[metric] ?? 0), 0);
    expect(pages.reduce((sum, line) => sum + line.documents, 0)).toBe(status?.counters.processed);
    expect(total('nostria.documents.written')).toBe(status?.counters.written);
    expect(total('nostria.documents.quarantined')).toBe((status?.counters.quarantined ?? 0) + (status?.counters.failed ?? 0));
    expect(total('nostria.cosmos.throttled')).toBe(status?.counters.throttled);
    expect(total('nostria.cosmos.request_units')).toBeCloseTo(status?.counters.requestUnits ?? Number.NaN, 2);
    expect(pages.map((line) => line.dryRun)).toEqual(pages.map(() => false));
  });

  test("a late duplicate of the run's messages changes nothing", async () => {
    const before = await getRunStatus(app.db.prisma, runId);
    await put(JSON.stringify({ kind: 'full', runId, batchSize: 7 }));
    const [first] = await listFeedRanges(app.container);
    await put(JSON.stringify({ kind: 'batch', runId, range: rangeKey(first!), continuation: null, batchSize: 7 }));
    expect(await app.drain()).toMatchObject({ failures: 0, poisoned: 0 });
    expect(await getRunStatus(app.db.prisma, runId)).toEqual(before);
  });

  test("a user message migrates one user's documents", async () => {
    const documents = generateUser({ seed: 99, index: 0, messy: false });
    const pubkey = documents[0]!.pubkey;
    await loadDocuments(app.container, documents);
    expect((await verifyUser(ctx(), pubkey)).consistent).toBe(false);
    await put(JSON.stringify({ kind: 'user', pubkey }));
    const logsBefore = app.logs.length;
    expect(await app.drain()).toMatchObject({ completed: 1, failures: 0 });
    const report = await verifyUser(ctx(), pubkey);
    expect(report.consistent).toBe(true);
    expect(Object.values(report.checked).reduce((sum, counts) => sum + counts.postgres, 0)).toBe(documents.length);
    // Every document of this clean user is new to PostgreSQL: all written, none quarantined.
    const lines = app.logs
      .slice(logsBefore)
      .filter((log) => log.message.startsWith(telemetryPrefix))
      .map((log) => JSON.parse(log.message.slice(telemetryPrefix.length)) as Record<string, unknown>);
    const runs = await app.db.prisma.migrationRun.findMany({ where: { kind: 'user' }, orderBy: { startedAt: 'desc' }, take: 1 });
    expect(lines).toEqual([
      {
        event: 'migration.user',
        runId: runs[0]?.id,
        documents: documents.length,
        metrics: { 'nostria.documents.written': documents.length, 'nostria.documents.quarantined': 0 },
      },
    ]);
  });
});

describe('messages that cannot be processed', () => {
  test('are rejected with the reason, retried maxDequeueCount times, then end in the poison queue', async () => {
    const bad = ['this is not json', '{"kind":"batch"}', JSON.stringify({ kind: 'full', runId: 'no-such-run' })];
    for (const text of bad) await put(text);
    const logsBefore = app.logs.length;
    const drained = await app.drain();
    expect(drained).toMatchObject({ invocations: bad.length * maxDequeueCount, completed: 0, poisoned: bad.length });
    expect((await poisonTexts()).sort()).toEqual([...bad].sort());
    const errors = app.logs
      .slice(logsBefore)
      .filter((log) => log.level === 'error')
      .map((log) => log.message);
    expect(errors.some((message) => /rejected, not JSON/.test(message))).toBe(true);
    expect(errors.some((message) => /rejected, .*runId: .*range: .*continuation: /.test(message))).toBe(true);
    expect(errors.some((message) => /rejected, unknown run no-such-run/.test(message))).toBe(true);
  });

  test('a migration that would write without MIGRATION_MODE is refused, while a dry run is allowed and writes nothing', async () => {
    const rows = await app.db.prisma.account.count();
    const runs = await app.db.prisma.migrationRun.count();
    const documents = generateUser({ seed: 123, index: 0, messy: false });
    await loadDocuments(app.container, documents);
    const logsBefore = app.logs.length;
    app.useServices({ config: { migrationMode: false } });
    try {
      await put(JSON.stringify({ kind: 'user', pubkey: documents[0]!.pubkey }));
      await put(JSON.stringify({ kind: 'full', types: ['account'], dryRun: true, batchSize: 5 }));
      const drained = await app.drain();
      expect(drained.poisoned).toBe(1);
      expect(drained.completed).toBeGreaterThan(1);
    } finally {
      app.restoreServices();
    }
    expect(await app.db.prisma.account.count()).toBe(rows);
    expect(await app.db.prisma.migrationRun.count()).toBe(runs);
    const logs = app.logs.slice(logsBefore);
    expect(logs.some((log) => log.level === 'error' && /refused, .*MIGRATION_MODE=true/.test(log.message))).toBe(true);
    expect(logs.some((log) => /\(dry run\) range [0-9A-F]{4}-[0-9A-F]{4}: \d+ document\(s\)/.test(log.message))).toBe(true);
    // A dry run's pages report what their reads cost, and no document written or quarantined.
    const pages = logs
      .filter((log) => log.message.startsWith(telemetryPrefix))
      .map((log) => JSON.parse(log.message.slice(telemetryPrefix.length)) as PageLine)
      .filter((line) => line.event === 'migration.page');
    expect(pages.length).toBeGreaterThan(0);
    for (const line of pages) {
      expect(line.dryRun).toBe(true);
      expect(Object.keys(line.metrics).sort()).toEqual(['nostria.cosmos.request_units', 'nostria.cosmos.throttled']);
    }
  });

  test('the poison queue is listed and replayed: valid messages go back to the queue, invalid ones stay', async () => {
    const documents = generateUser({ seed: 321, index: 0, messy: false });
    const pubkey = documents[0]!.pubkey;
    await loadDocuments(app.container, documents);
    // As if poisoned during an outage: valid, and will succeed now.
    const valid = JSON.stringify({ kind: 'user', pubkey });
    await app.queues.poison.sendMessage(valid);
    await app.queues.poison.sendMessage('{"kind":"nope"}');

    const listing = await listPoisonMessages(app.queues);
    expect(listing.approximateCount).toBe(2);
    expect(listing.messages).toEqual([
      expect.objectContaining({ text: valid, message: { kind: 'user', pubkey, dryRun: false } }),
      expect.objectContaining({ text: '{"kind":"nope"}', invalid: expect.stringContaining('kind') }),
    ]);

    const replay = await replayPoisonMessages(app.queues, { holdSeconds: 1 });
    expect(replay.replayed.map((message) => message.text)).toEqual([valid]);
    expect(replay.invalid.map((message) => message.text)).toEqual(['{"kind":"nope"}']);
    expect(await app.drain()).toMatchObject({ completed: 1, failures: 0 });
    expect((await verifyUser(ctx(), pubkey)).consistent).toBe(true);
  });

  test(
    'npm run migrate:poison lists as JSON, replays with exit code 1 while invalid messages remain, and refuses bad ' + 'arguments',
    async () => {
      await app.queues.poison.sendMessage('not json either');
      // In-process (test/support/run-cli.ts), so Azurite, which runs in this process too, keeps answering.
      const cli = async (args: string[]) => {
        const result = await runCli(
          poisonCommand,
          args,
          baseEnv({ AzureWebJobsStorage: app.azurite.connectionString, MIGRATION_QUEUE_NAME: app.config.queue!.name }),
        );
        return { status: result.code, stdout: result.stdout, stderr: result.stderr };
      };
      const list = await cli(['--json']);
      expect(list.status).toBe(0);
      expect(JSON.parse(list.stdout)).toMatchObject({
        approximateCount: 1,
        messages: [{ text: 'not json either', invalid: expect.stringMatching(/^not JSON/) }],
      });
      const replay = await cli(['--replay']);
      expect(replay.status).toBe(1);
      expect(replay.stdout).toMatch(/Replayed 0 message\(s\)[\s\S]*1 invalid message\(s\) left in the poison queue/);
      const bad = await cli(['--frobnicate']);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/frobnicate/);
      const help = await cli(['--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/Usage: npm run migrate:poison/);
    },
  );
});

test('a run id outside the allowed characters is rejected before anything acts on it', async () => {
  await put(JSON.stringify({ kind: 'full', runId: `../${randomBytes(2).toString('hex')}` }));
  expect(await app.drain()).toMatchObject({ completed: 0, poisoned: 1 });
});
