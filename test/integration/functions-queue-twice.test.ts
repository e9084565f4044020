import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { demoDocuments } from '../../dev/sample-data/demo-dataset.js';
import { listFeedRanges, rangeKey } from '../../shared/cosmos/feed-ranges.js';
import { getRunStatus } from '../../shared/migration/run-status.js';
import { handleMigrationMessage, runIdOfMessage } from '../../shared/queue/handle-migration-message.js';
import { requestMigration } from '../../shared/queue/request-migration.js';
import { getMigrationStats } from '../../shared/stats/migration-stats.js';
import { type MigrationMessageInput, parseMigrationMessage } from '../../shared/storage-queue/messages.js';
import { enqueueMigrationMessages } from '../../shared/storage-queue/send-messages.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * A full migration driven only by messages on a real (Azurite) queue, with at-least-once delivery made
 * to deliver twice: EVERY message, the run's first `full` message included, is put on the queue a second
 * time when first received (test/support/functions-core/queue-host.ts). The run is recorded and its first
 * message queued as the HTTP start function does (`requestMigration`); from there on only the queue
 * function acts. It must fan out one chain per feed range and end with every document counted once.
 */

let app: FunctionAppEnvironment;
let loaded: number;

beforeAll(async () => {
  app = await startFunctionAppEnvironment({ MIGRATION_MODE: 'true' });
  loaded = (await loadDocuments(app.container, demoDocuments(30, 17))).loaded;
});
afterAll(() => app?.stop());

test(
  'a full migration with every queue message delivered twice fans out one chain per feed range and counts each ' + 'document once',
  async () => {
    const services = { prisma: app.db.prisma, cosmos: app.container, config: app.config };
    const { runId } = await requestMigration(services, { kind: 'full', batchSize: 9, dryRun: false }, (messages) =>
      enqueueMigrationMessages(app.config, messages),
    );
    const receipts = new Map<string, number>();
    const logsBefore = app.logs.length;
    const drained = await app.drain({
      batchSize: 8,
      duplicate: (text) => {
        receipts.set(text, (receipts.get(text) ?? 0) + 1);
        return true;
      },
    });
    const logs = app.logs.slice(logsBefore).map((log) => log.message);

    expect(drained).toMatchObject({ poisoned: 0 });
    // Every message the run produced reached the function at least twice.
    const kinds = [...receipts.keys()].map((text) => parseMigrationMessage(JSON.parse(text)).kind);
    expect(kinds.filter((kind) => kind === 'full')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'batch').length).toBeGreaterThan(8);
    expect([...receipts.values()].filter((count) => count < 2)).toEqual([]);

    // One chain per feed range: the first delivery of `full` starts four; the second starts only what is not done yet.
    const ranges = (await listFeedRanges(app.container)).map(rangeKey);
    expect(ranges).toHaveLength(4);
    const fanOuts = logs.filter((message) => message.includes(`run ${runId}: started`));
    expect(fanOuts).toHaveLength(2);
    expect(fanOuts.some((message) => message.includes('started 4 chain(s): range '))).toBe(true);

    // One run, completed, every document counted once although every page was handled at least twice.
    expect(await app.db.prisma.migrationRun.count()).toBe(1);
    const status = await getRunStatus(app.db.prisma, runId);
    expect(status).toMatchObject({ kind: 'full', reader: 'change-feed', state: 'completed', partsDone: 4 });
    expect(status?.parts.map((part) => part.part)).toEqual(ranges);
    expect(status?.counters.processed).toBe(loaded);
    expect(status?.parts.reduce((sum, part) => sum + part.processed, 0)).toBe(loaded);
    expect(logs.some((message) => /nothing to do/.test(message))).toBe(true);

    // Every source document in its table or in the quarantine, and the tables agree with Cosmos.
    const stats = await getMigrationStats(services);
    expect(Object.values(stats.postgres).reduce((sum, count) => sum + count, 0) + stats.quarantined).toBe(loaded);
    const report = await verifyAll(services);
    expect({ different: report.different.count, missingInCosmos: report.missingInCosmos.count }).toEqual({
      different: 0,
      missingInCosmos: 0,
    });
  },
);

test('a full message put on the queue by hand, without a run id, records one run however often the host delivers it', async () => {
  // The host redelivers a message under its own id (after a failure or a lost lease); the handler is given that
  // id as the trigger metadata carries it (functions/migration-queue.ts), here directly, for two deliveries.
  const services = { prisma: app.db.prisma, cosmos: app.container, config: app.config };
  const sent: Array<{ kind: string; runId?: string }> = [];
  const handling = {
    services,
    messageId: 'a3c5e8f0-0000-4000-8000-000000000001',
    enqueue: (messages: readonly MigrationMessageInput[]) => {
      sent.push(...messages.map((message) => ({ kind: message.kind, runId: 'runId' in message ? message.runId : undefined })));
      return Promise.resolve([]);
    },
    withdraw: () => Promise.resolve(),
  };
  const runsBefore = await app.db.prisma.migrationRun.count();
  const message = parseMigrationMessage({ kind: 'full' });
  const first = await handleMigrationMessage(handling, message);
  const second = await handleMigrationMessage(handling, message);

  expect(first).toMatchObject({ kind: 'fanned-out', runId: runIdOfMessage(handling.messageId) });
  expect(second).toMatchObject({ kind: 'fanned-out', runId: runIdOfMessage(handling.messageId) });
  expect(await app.db.prisma.migrationRun.count()).toBe(runsBefore + 1);
  expect(new Set(sent.map((message) => message.runId))).toEqual(new Set([runIdOfMessage(handling.messageId)]));
  // Another message (another id) is another request, and another run.
  expect(runIdOfMessage('another message')).not.toBe(runIdOfMessage(handling.messageId));
  expect(runIdOfMessage(handling.messageId)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
