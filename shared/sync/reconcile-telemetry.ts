import type { ReconcileCounts } from '../migration/reconcile-passes.js';
import { metricNames, type TelemetryEvent } from '../telemetry/telemetry.js';

/**
 * The telemetry of a reconcile pass: one line per range's share of work (a queue step, or a range of a CLI pass),
 * and one for the pass once it completes, with its totals. Each carries the documents read, the rows matched, what
 * was confirmed gone and removed, and the request units and 429s the reads cost.
 */
export function reconcileTelemetry(
  event: 'reconcile.range' | 'reconcile.pass',
  pass: { passId: string; dryRun: boolean; rangeKey?: string },
  counts: ReconcileCounts,
): TelemetryEvent {
  return {
    event,
    passId: pass.passId,
    ...(pass.rangeKey ? { feedRange: pass.rangeKey } : {}),
    documents: counts.documents,
    dryRun: pass.dryRun,
    metrics: {
      [metricNames.cosmosRequestUnits]: counts.requestUnits,
      [metricNames.cosmosThrottled]: counts.throttled,
      [metricNames.rowsMatched]: counts.scanned,
      [metricNames.reconcileConfirmed]: counts.confirmed,
      ...(pass.dryRun ? {} : { [metricNames.reconcileRemoved]: counts.removed }),
    },
  };
}
