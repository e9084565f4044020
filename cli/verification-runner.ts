import type { AppContext } from '../shared/context/app-context.js';
import { formatCount } from '../shared/stats/type-labels.js';
import { telemetryLine } from '../shared/telemetry/telemetry.js';
import { type FullVerificationReport, type VerifyAllOptions, verifyAll } from '../shared/verification/index.js';
import { verificationTelemetry } from '../shared/verification/verification-telemetry.js';
import type { CommandIO } from './core/command.js';

export interface VerifyEverythingResult {
  /** What the pass found (before its repair, if one was asked for). */
  report: FullVerificationReport;
  /** With repair, and only if the first pass found something: the pass run after the repair to confirm it. */
  afterRepair: FullVerificationReport | null;
  /** Whether the databases agree at the end (after the repair, when there was one). */
  consistent: boolean;
}

export type VerifyEverythingOptions = Pick<VerifyAllOptions, 'pageSize' | 'maxListed' | 'concurrency' | 'maxRequestUnitsPerSecond'> & {
  repair: boolean;
};

/**
 * `verifyAll` with progress, and a telemetry line on stderr per feed range and per pass. With `repair`, whatever
 * the pass found missing or different is migrated again, then a second pass confirms it: the report of a
 * repairing pass describes what it found, not what it left. Ctrl-C stops every range after the page in hand
 * with `InterruptedError`: verification only reads, and a repair it cut short is idempotent, so running it
 * again is all there is to do.
 */
export async function verifyEverything(
  io: CommandIO,
  ctx: Pick<AppContext, 'prisma' | 'cosmos' | 'config'>,
  options: VerifyEverythingOptions,
): Promise<VerifyEverythingResult> {
  const report = await verifyWithProgress(io, ctx, { ...options, verb: 'Verifying' });
  if (!options.repair || report.consistent) return { report, afterRepair: null, consistent: report.consistent };
  const afterRepair = await verifyWithProgress(io, ctx, { ...options, repair: false, verb: 'Re-verifying' });
  return { report, afterRepair, consistent: afterRepair.consistent };
}

async function verifyWithProgress(
  io: CommandIO,
  ctx: Pick<AppContext, 'prisma' | 'cosmos' | 'config'>,
  { verb, ...options }: VerifyEverythingOptions & { verb: string },
): Promise<FullVerificationReport> {
  try {
    const report = await verifyAll(ctx, {
      ...options,
      signal: io.signal,
      // Read and matched, each about the rows there are: the bar counts both halves of the work.
      onProgress: (event) =>
        io.progress.update({
          label: verb,
          done: Math.min(event.documents, event.total) + event.rows,
          total: 2 * event.total,
          detail:
            `${formatCount(event.documents)} documents read, ${formatCount(event.rows)} rows matched, ` +
            `${event.rangesDone} of ${event.ranges} feed ranges done`,
        }),
      onRangeDone: (event) => io.log(telemetryLine(verificationTelemetry('verification.range', event))),
    });
    io.progress.stop();
    io.log(telemetryLine(verificationTelemetry('verification.pass', { passId: report.passId, ...totalsOf(report) })));
    return report;
  } finally {
    io.progress.stop();
  }
}

function totalsOf(report: FullVerificationReport) {
  const { documents, requestUnits, throttled } = report.reads;
  const rows = Object.values(report.types).reduce((sum, tally) => sum + tally.postgres, 0);
  const differences =
    report.missingInPostgres.count +
    report.missingInCosmos.count +
    report.different.count +
    report.competing.count +
    report.otherTypes.missing.count;
  return { documents, rows, differences, requestUnits, throttled, repair: report.repair };
}
