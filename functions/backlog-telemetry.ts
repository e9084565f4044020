import { app, type InvocationContext, type Timer } from '@azure/functions';
import { configuredSecrets } from '../shared/config/secrets.js';
import { AppError } from '../shared/core/errors.js';
import { safeErrorMessage } from '../shared/core/safe-error.js';
import { backlogTelemetry } from '../shared/mirror/backlog-telemetry.js';
import { getServices } from '../shared/runtime/services.js';
import { emitTelemetry } from '../shared/telemetry/telemetry.js';

/**
 * Every five minutes: what waits, as telemetry (`nostria.pending_sync.size` and `.oldest_age_seconds`,
 * `nostria.quarantine.size`, `nostria.queue.poison_messages`), so the workbook charts it and the alerts see
 * it whether or not anything else runs: two queries in PostgreSQL and one look at the poison queue. A failure
 * is logged (masked) and thrown; the next tick tries again.
 */
export async function backlogTelemetryTick(_timer: Timer, context: InvocationContext): Promise<void> {
  const services = getServices();
  try {
    emitTelemetry((line) => context.log(line), await backlogTelemetry(services.prisma, services.config.queue));
  } catch (error) {
    const text = error instanceof AppError ? error.message : safeErrorMessage(error, configuredSecrets(services));
    context.error(`backlog sizes not counted: ${text}`);
    throw error;
  }
}

app.timer('backlogTelemetry', {
  // Fixed rather than a setting: the workbook's charts of the sizes bin by five minutes.
  schedule: '0 */5 * * * *',
  handler: backlogTelemetryTick,
});
