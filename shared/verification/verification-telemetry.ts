import { metricNames, type TelemetryEvent } from '../telemetry/telemetry.js';
import type { VerificationRangeDone } from './verify-all.js';

/**
 * The telemetry of a verification of everything: one line per feed range, and one for the whole pass with its
 * totals. Each carries the documents read, the rows matched, the differences found, and the request units and
 * 429s the reads cost; with a repair, what it wrote and quarantined.
 */
export function verificationTelemetry(
  event: 'verification.range' | 'verification.pass',
  done: Omit<VerificationRangeDone, 'rangeKey'> & { rangeKey?: string },
): TelemetryEvent {
  return {
    event,
    passId: done.passId,
    ...(done.rangeKey ? { feedRange: done.rangeKey } : {}),
    documents: done.documents,
    metrics: {
      [metricNames.cosmosRequestUnits]: done.requestUnits,
      [metricNames.cosmosThrottled]: done.throttled,
      [metricNames.rowsMatched]: done.rows,
      [metricNames.verificationDifferences]: done.differences,
      ...(done.repair
        ? {
            [metricNames.documentsWritten]: done.repair.written,
            [metricNames.documentsQuarantined]: done.repair.quarantined + done.repair.failed,
          }
        : {}),
    },
  };
}
