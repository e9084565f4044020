import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { requireQueue } from '../../shared/config/env.js';
import { backlogTelemetry } from '../../shared/mirror/backlog-telemetry.js';
import { mirrorTarget } from '../../shared/mirror/pending-sync.js';
import { metricNames, telemetryPrefix } from '../../shared/telemetry/telemetry.js';
import { type FunctionAppEnvironment, startFunctionAppEnvironment } from '../support/functions-core/function-app-environment.js';

/**
 * The backlog timer's figures the alerts fire on (infra/modules/alerts.bicep): how long the oldest pending_sync
 * entry has waited, and how many messages the poison queue holds, next to the sizes it already reported. Real
 * PostgreSQL and Azurite; the timer invoked as the host would.
 */

let app: FunctionAppEnvironment;

beforeAll(async () => {
  app = await startFunctionAppEnvironment();
});
afterAll(() => app?.stop());
beforeEach(async () => {
  await app.db.pool.query('DELETE FROM "pending_sync"');
  await app.queues.poison.clearMessages();
});

async function waiting(ageMinutes: number, now: Date): Promise<void> {
  const pubkey = randomBytes(32).toString('hex');
  await app.db.pool.query(
    'INSERT INTO "pending_sync" ("target", "documentType", "pubkey", "documentId", "attempts", "createdAt", "nextAttempt") VALUES ($1, $2, $3, $4, $5, $6, $6)',
    [mirrorTarget, 'account', pubkey, `account-${pubkey}`, 3, new Date(now.getTime() - ageMinutes * 60_000)],
  );
}

test('the oldest pending_sync entry is aged from its first failed write; 0 when none waits', async () => {
  const now = new Date('2026-12-08T12:00:00Z');
  const queue = requireQueue(app.config);
  expect((await backlogTelemetry(app.db.prisma, queue, now)).metrics[metricNames.pendingSyncOldestAgeSeconds]).toBe(0);
  await waiting(5, now);
  await waiting(41, now);
  // An entry of another target (the sync's own) is not a mirror write and is not counted.
  await app.db.pool.query(
    'INSERT INTO "pending_sync" ("target", "documentType", "pubkey", "documentId", "createdAt") VALUES ($1, $2, $3, $4, $5)',
    ['postgres', 'account', 'p', 'account-p', new Date(now.getTime() - 120 * 60_000)],
  );
  const event = await backlogTelemetry(app.db.prisma, queue, now);
  expect(event.metrics[metricNames.pendingSyncOldestAgeSeconds]).toBe(41 * 60);
  expect(event.metrics[metricNames.pendingSyncSize]).toBe(2);
});

test('the poison queue length is reported when the queue is configured, and left out when it is not', async () => {
  for (const text of ['{"kind":"full"}', 'not json']) await app.queues.poison.sendMessage(text);
  const event = await backlogTelemetry(app.db.prisma, requireQueue(app.config));
  expect(event.metrics[metricNames.poisonQueueMessages]).toBe(2);
  const withoutQueue = await backlogTelemetry(app.db.prisma, undefined);
  expect(Object.keys(withoutQueue.metrics)).not.toContain(metricNames.poisonQueueMessages);
});

test('the timer writes one backlog line with every figure the alerts read', async () => {
  await waiting(31, new Date());
  await app.queues.poison.sendMessage('{"kind":"full"}');
  const logsBefore = app.logs.length;
  await app.registration('backlogTelemetry').callback({ isPastDue: false }, app.context('backlogTelemetry'));
  const lines = app.logs
    .slice(logsBefore)
    .filter((log) => log.message.startsWith(telemetryPrefix))
    .map((log) => JSON.parse(log.message.slice(telemetryPrefix.length)) as { event: string; metrics: Record<string, number> });
  expect(lines).toHaveLength(1);
  expect(lines[0]?.event).toBe('backlog');
  const metrics = lines[0]?.metrics ?? {};
  expect(metrics[metricNames.poisonQueueMessages]).toBe(1);
  expect(metrics[metricNames.pendingSyncOldestAgeSeconds]).toBeGreaterThanOrEqual(31 * 60);
  // The line was written right after the insert: a few seconds at most, never a minute.
  expect(metrics[metricNames.pendingSyncOldestAgeSeconds]).toBeLessThan(32 * 60);
});
