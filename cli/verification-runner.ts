import type { AppContext } from '../shared/context/app-context.js';
import { typeLabels } from '../shared/stats/type-labels.js';
import { type FullVerificationReport, type VerifyAllOptions, verifyAll } from '../shared/verification/index.js';
import type { CommandIO } from './core/command.js';
import { untilInterrupted } from './core/interrupt.js';

export interface VerifyEverythingResult {
  /** What the pass found (before its repair, if one was asked for). */
  report: FullVerificationReport;
  /** With repair, and only if the first pass found something: the pass run after the repair to confirm it. */
  afterRepair: FullVerificationReport | null;
  /** Whether the databases agree at the end (after the repair, when there was one). */
  consistent: boolean;
}

export type VerifyEverythingOptions = Pick<VerifyAllOptions, 'pageSize' | 'maxListed'> & { repair: boolean };

/**
 * `verifyAll` with progress, a bar per type. With `repair`, whatever the pass found missing or different
 * is migrated again, then a second pass confirms it: the report of a repairing pass describes what it
 * found, not what it left. Ctrl-C stops it at once with `InterruptedError`: verification only reads, and a
 * repair it cut short is idempotent, so running it again is all there is to do.
 */
export async function verifyEverything(
  io: CommandIO,
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>,
  options: VerifyEverythingOptions,
): Promise<VerifyEverythingResult> {
  const report = await verifyWithProgress(io, ctx, { ...options, verb: 'Verifying' });
  if (!options.repair || report.consistent) return { report, afterRepair: null, consistent: report.consistent };
  const afterRepair = await verifyWithProgress(io, ctx, { ...options, repair: false, verb: 'Re-verifying' });
  return { report, afterRepair, consistent: afterRepair.consistent };
}

async function verifyWithProgress(
  io: CommandIO,
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>,
  { verb, ...options }: VerifyEverythingOptions & { verb: string },
): Promise<FullVerificationReport> {
  try {
    const verification = verifyAll(ctx, {
      ...options,
      onProgress: (event) => {
        if (event.phase === 'counting') {
          io.progress.update({ label: `${verb}: counting`, done: event.processed, total: event.total });
          return;
        }
        const subject = event.type ? typeLabels[event.type] : 'documents';
        // Rows Cosmos may lack are looked for in a second pass over the table, with its own total.
        const label = event.phase === 'comparing' ? `${verb} ${subject}` : `${verb} ${subject}, PostgreSQL side`;
        io.progress.update({ label, done: event.processed, total: event.total });
      },
    });
    return await untilInterrupted(verification, io.signal);
  } finally {
    io.progress.stop();
  }
}
