import type { PrismaClient } from '../postgres/prisma-client.js';
import { metricNames, type TelemetryEvent } from '../telemetry/telemetry.js';
import { pendingSyncBacklog } from './pending-sync.js';

/**
 * What waits, as gauges: mirror writes not yet copied to Cosmos (`pending_sync`, as the pending-sync
 * retries count them) and open entries in the quarantine (resolved and closed ones are kept for audit, not
 * counted). Both should stay flat; growth means a retry keeps
 * failing or documents keep arriving that cannot be mapped, and an operator should look.
 */
export async function backlogTelemetry(prisma: PrismaClient): Promise<TelemetryEvent> {
  const [pending, quarantined] = await Promise.all([
    pendingSyncBacklog(prisma),
    prisma.quarantinedDocument.count({ where: { status: 'open' } }),
  ]);
  return {
    event: 'backlog',
    metrics: { [metricNames.pendingSyncSize]: pending.count, [metricNames.quarantineSize]: quarantined },
  };
}
