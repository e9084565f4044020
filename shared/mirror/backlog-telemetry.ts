import type { QueueSettings } from '../config/env.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { migrationQueues } from '../storage-queue/queue-client.js';
import { metricNames, type TelemetryEvent } from '../telemetry/telemetry.js';
import { mirrorTarget } from './pending-sync.js';

/**
/**
 * What waits, as gauges: mirror writes not yet copied to Cosmos (`pending_sync`, as the pending-sync retries
 * count them) and how long the oldest has waited, open entries in the quarantine (resolved and closed ones are
 * kept for audit, not counted), and messages in the migration queue's poison queue (when the queue is
 * configured). All should stay flat or at zero; the alerts (infra/modules/alerts.bicep) fire when they do not,
 * and an operator should look.
 */
export async function backlogTelemetry(prisma: PrismaClient, queue: QueueSettings | undefined, now = new Date()): Promise<TelemetryEvent> {
  const [pending, quarantined, poisonMessages] = await Promise.all([
    // The age runs from an entry's first failed write (`createdAt`), which its retries leave as it is.
    prisma.pendingSync.aggregate({ where: { target: mirrorTarget }, _count: true, _min: { createdAt: true } }),
    prisma.quarantinedDocument.count({ where: { status: 'open' } }),
    queue ? poisonQueueLength(queue) : undefined,
  ]);
  const oldest = pending._min.createdAt;
  return {
    event: 'backlog',
    metrics: {
      [metricNames.pendingSyncSize]: pending._count,
      [metricNames.pendingSyncOldestAgeSeconds]: oldest ? Math.max(0, Math.floor((now.getTime() - oldest.getTime()) / 1000)) : 0,
      [metricNames.quarantineSize]: quarantined,
      ...(poisonMessages === undefined ? {} : { [metricNames.poisonQueueMessages]: poisonMessages }),
    },
  };
}

/** Storage's estimate of the poison queue's length (the same figure `npm run migrate:poison` shows). */
async function poisonQueueLength(queue: QueueSettings): Promise<number> {
  const properties = await migrationQueues(queue).poison.getProperties();
  return properties.approximateMessagesCount ?? 0;
}
