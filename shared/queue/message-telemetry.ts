import { isRangeKey } from '../cosmos/feed-ranges.js';
import { reconcileTelemetry } from '../sync/reconcile-telemetry.js';
import { metricNames, type TelemetryEvent } from '../telemetry/telemetry.js';
import type { MessageOutcome } from './handle-migration-message.js';

/**
 * The telemetry of a handled migration queue message:
 * - a page of a run: its documents written and quarantined (refused rows included), and the request units
 *   and 429s its Cosmos reads cost, with the run and the part (feed range or document type). A dry run
 *   writes nothing, so only its read cost is reported;
 * - a user's migration and a resync: documents written and quarantined (refused rows included);
 * - a batch of pending mirror writes: how many still wait (`nostria.pending_sync.size`);
 * - a step of a reconcile pass's range: what it read, matched, confirmed gone and removed (`reconcile.range`), and,
 *   from the step that completes the pass, its totals (`reconcile.pass`).
 * Nothing for a fan-out or a duplicate delivery, which move no document.
 */
export function messageTelemetry(outcome: MessageOutcome): TelemetryEvent[] {
  if (outcome.kind === 'reconcile' && outcome.totals) {
    const pass = { passId: outcome.passId, dryRun: outcome.dryRun };
    return [
      reconcileTelemetry('reconcile.range', { ...pass, rangeKey: outcome.range }, outcome.counts),
      reconcileTelemetry('reconcile.pass', pass, outcome.totals),
    ];
  }
  const event = messageEvent(outcome);
  return event ? [event] : [];
}

function messageEvent(outcome: MessageOutcome): TelemetryEvent | undefined {
  switch (outcome.kind) {
    case 'page': {
      const cost = { [metricNames.cosmosRequestUnits]: outcome.requestCharge, [metricNames.cosmosThrottled]: outcome.throttled };
      return {
        event: 'migration.page',
        runId: outcome.runId,
        ...partFields(outcome.part),
        documents: outcome.documents,
        dryRun: outcome.dryRun,
        metrics: outcome.dryRun
          ? cost
          : {
              ...cost,
              [metricNames.documentsWritten]: outcome.written,
              [metricNames.documentsQuarantined]: outcome.quarantined + outcome.failed,
            },
      };
    }
    case 'user':
      if (outcome.dryRun) return undefined;
      return {
        event: 'migration.user',
        runId: outcome.runId,
        documents: outcome.processed,
        metrics: {
          [metricNames.documentsWritten]: outcome.written,
          [metricNames.documentsQuarantined]: outcome.quarantined + outcome.failed,
        },
      };
    case 'resync':
      return {
        event: 'resync',
        documents: outcome.outcome.read,
        metrics: {
          [metricNames.documentsWritten]: outcome.outcome.written,
          [metricNames.documentsQuarantined]: outcome.outcome.quarantined + outcome.outcome.failed,
        },
      };
    case 'pending-sync':
      return { event: 'pending-sync', metrics: { [metricNames.pendingSyncSize]: outcome.remaining } };
    case 'reconcile':
      return reconcileTelemetry(
        'reconcile.range',
        { passId: outcome.passId, dryRun: outcome.dryRun, rangeKey: outcome.range },
        outcome.counts,
      );
    case 'fanned-out':
    case 'duplicate':
    case 'switch':
    case 'reconcile-started':
    case 'reconcile-hashing':
    case 'reconcile-done':
    case 'reconcile-duplicate':
      return undefined;
  }
}

/** A run's part as a field: a feed range by its key, anything else (a document type, `other`, `all`) as the type. */
function partFields(part: string): Pick<TelemetryEvent, 'feedRange' | 'documentType'> {
  return isRangeKey(part) ? { feedRange: part } : { documentType: part };
}
