import { metricNames, type TelemetryEvent } from '../telemetry/telemetry.js';
import type { SyncOutcome } from './sync-change-batch.js';

/**
 * The telemetry of an applied sync batch: documents written and quarantined (refused rows are quarantined
 * too), and the sync lag, the seconds from the batch's oldest change in Cosmos (`_ts`) to `nowMs`, when the
 * batch is in PostgreSQL; and the mirror's echoes and the diverged versions kept. Nothing for a deferred batch
 * (its changes are counted when the resync applies them).
 */
export function syncTelemetry(items: number, outcome: SyncOutcome, nowMs: number): TelemetryEvent | undefined {
  if (outcome.kind !== 'applied') return undefined;
  return {
    event: 'sync.batch',
    documents: items,
    metrics: {
      [metricNames.documentsWritten]: outcome.written,
      [metricNames.documentsQuarantined]: outcome.quarantined + outcome.failed,
      ...(outcome.echoes > 0 ? { [metricNames.mirrorEchoes]: outcome.echoes } : {}),
      ...(outcome.diverged > 0 ? { [metricNames.documentsDiverged]: outcome.diverged } : {}),
      // `_ts` has whole seconds, so a change that arrived within its second counts as no lag rather than less than none.
      ...(outcome.oldestChange === undefined ? {} : { [metricNames.syncLagSeconds]: Math.max(0, nowMs / 1000 - outcome.oldestChange) }),
    },
  };
}
