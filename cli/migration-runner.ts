import type { MigrationOptions, MigrationProgress } from '../shared/migration/index.js';
import { typeLabels } from '../shared/stats/type-labels.js';
import type { CommandIO } from './command.js';
import { watchInterrupt } from './interrupt.js';

/** Thrown from the progress callback at Ctrl-C: the page before it is committed with its checkpoint. */
class InterruptedRun extends Error {
  override readonly name = 'InterruptedRun';
}

export type RunOutcome =
  | { state: 'completed'; progress: MigrationProgress }
  /** `progress` is what was committed before the stop; undefined if no page had finished. */
  | { state: 'interrupted'; progress: MigrationProgress | undefined };

/**
 * Runs a migration with progress on stderr and, unless told otherwise, Ctrl-C handling. The engine
 * reports after each page has committed (rows and checkpoint together); stopping there, by throwing
 * from that report, leaves a run that `--resume` continues exactly after the last page. The run is
 * then recorded as failed with the reason "interrupted by Ctrl-C", which is what makes it resumable.
 */
export async function runWithProgress(
  io: CommandIO,
  label: string,
  total: number | undefined,
  start: (onProgress: NonNullable<MigrationOptions['onProgress']>) => Promise<MigrationProgress>,
  options: { stopAfterBatchOnCtrlC?: boolean } = {},
): Promise<RunOutcome> {
  let last: MigrationProgress | undefined;
  const interrupt = options.stopAfterBatchOnCtrlC === false ? undefined : watchInterrupt((line) => io.progress.log(line));
  io.progress.update({ label, done: 0, total });
  try {
    const progress = await start((update) => {
      last = update;
      io.progress.update({ label, done: update.processed, total, detail: progressDetail(update) });
      // Not on the final report: the run is already recorded as completed by then.
      if (interrupt?.signal.aborted && !update.done) throw new InterruptedRun('interrupted by Ctrl-C');
    });
    return { state: 'completed', progress };
  } catch (error) {
    if (error instanceof InterruptedRun) return { state: 'interrupted', progress: last };
    throw error;
  } finally {
    io.progress.stop();
    interrupt?.dispose();
  }
}

function progressDetail(progress: MigrationProgress): string {
  const part = progress.type === 'all' ? 'all types' : progress.type === 'other' ? 'unknown types' : typeLabels[progress.type];
  return `${part}: ${count(progress.written)} written, ${count(progress.unchanged)} unchanged, ${count(progress.skipped)} skipped, ${count(
    progress.quarantined + progress.failed,
  )} quarantined`;
}

/** The run's outcome for people. */
export function describeRun(title: string, progress: MigrationProgress): string {
  const counters: Array<[string, number]> = [
    ['Processed', progress.processed],
    [progress.dryRun ? 'Would write' : 'Written', progress.written],
    ['Unchanged', progress.unchanged],
    ['Skipped', progress.skipped],
    ['Quarantined', progress.quarantined],
    ['Failed', progress.failed],
  ];
  const lines = [
    progress.dryRun ? `=== ${title} (dry run: nothing was written) ===` : `=== ${title} ===`,
    ...(progress.dryRun ? [] : [`Run: ${progress.runId}`]),
    ...counters.map(([name, value]) => `  ${`${name}:`.padEnd(13)} ${count(value)}`),
  ];
  if (progress.displaced > 0) {
    lines.push(
      `  ${'Displaced:'.padEnd(13)} ${count(progress.displaced)} (older rows moved to the quarantine by newer documents of the same pubkey)`,
    );
  }
  const unstored = progress.quarantined + progress.failed;
  if (unstored > 0) {
    lines.push(
      '',
      progress.dryRun
        ? `${count(unstored)} document(s) cannot be mapped and would go to the quarantine table with the reason.`
        : `${count(unstored)} document(s) could not be stored in their table; each is kept in the quarantine table with the reason (\`npm run migrate:stats\` counts them by type).`,
    );
  }
  return lines.join('\n');
}

/** What to say when a run stopped at Ctrl-C. */
export function describeInterruption(progress: MigrationProgress | undefined, dryRun: boolean, resumeCommand: string): string {
  const done = `Interrupted after ${count(progress?.processed ?? 0)} documents.`;
  if (dryRun) return `${done} A dry run writes nothing and keeps no checkpoint; run it again to start over.`;
  return `${done} Everything up to the last batch is committed with its checkpoint.\nResume with: ${resumeCommand}`;
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}
