import { InterruptedError } from '../shared/core/errors.js';
import { isRangeKey, rangeLabel } from '../shared/cosmos/feed-ranges.js';
import { documentTypeOf } from '../shared/domain/document-types.js';
import type { MigrationOptions, MigrationProgress, RunPart } from '../shared/migration/index.js';
import { formatCount, typeLabels } from '../shared/stats/type-labels.js';
import type { CommandIO } from './core/command.js';

export type RunOutcome =
  | { state: 'completed'; progress: MigrationProgress }
  /** `progress` is what was committed before the stop; undefined if no page had finished. */
  | { state: 'interrupted'; progress: MigrationProgress | undefined };

/** What the engine is started with: progress reports, and Ctrl-C. */
export type RunHooks = Required<Pick<MigrationOptions, 'onProgress' | 'signal'>>;

/**
 * Runs a migration with progress on stderr. Ctrl-C aborts the command's signal, which the engine checks
 * after each committed page: it stops there, records the run as `interrupted` and throws
 * `InterruptedError`, so `--resume` continues exactly after the last committed page.
 */
export async function runWithProgress(
  io: CommandIO,
  label: string,
  total: number | undefined,
  start: (hooks: RunHooks) => Promise<MigrationProgress>,
): Promise<RunOutcome> {
  let last: MigrationProgress | undefined;
  io.progress.update({ label, done: 0, total });
  try {
    const progress = await start({
      signal: io.signal,
      onProgress: (update) => {
        last = update;
        io.progress.update({ label, done: update.processed, total, detail: progressDetail(update) });
      },
    });
    return { state: 'completed', progress };
  } catch (error) {
    if (error instanceof InterruptedError) return { state: 'interrupted', progress: last };
    throw error;
  } finally {
    io.progress.stop();
  }
}

/** A part of a run as people call it: a feed range by its bounds (`range 4000-8000`), a type by its label. */
export function partLabel(part: RunPart): string {
  if (part === 'all') return 'all types';
  if (isRangeKey(part)) return `range ${rangeLabel(part)}`;
  const type = documentTypeOf(part);
  return type ? typeLabels[type] : 'Unknown type';
}

/**
 * The running totals of the whole run, each of which adds up: what happened to the documents read
 * (written + unchanged + skipped + quarantined = read), and how many were read in each part (feed range or type).
 */
export function progressDetail(progress: MigrationProgress): string {
  const outcomes = outcomeCounts(progress)
    .filter(([name, value]) => value > 0 || name === 'written' || name === 'would write')
    .map(([name, value]) => `${formatCount(value)} ${name}`)
    .join(', ');
  const entries = Object.entries(progress.processedByPart);
  const parts = entries.map(([part, count]) => `${partLabel(part)} ${formatCount(count ?? 0)}`).join(', ');
  // A full load and the incremental catch-up read by feed range (one physical partition each); the others by type.
  const by = entries.some(([part]) => isRangeKey(part)) ? 'by feed range' : 'by type';
  return parts ? `${outcomes} | ${by}: ${parts}` : outcomes;
}

/** What became of the documents read; they add up to `processed`. A failed document is kept in the quarantine too. */
function outcomeCounts(progress: MigrationProgress): Array<[string, number]> {
  return [
    [progress.dryRun ? 'would write' : 'written', progress.written],
    ['unchanged', progress.unchanged],
    ['skipped', progress.skipped],
    ['quarantined', progress.quarantined + progress.failed],
  ];
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
    ...counters.map(([name, value]) => `  ${`${name}:`.padEnd(13)} ${formatCount(value)}`),
  ];
  lines.push(
    `  ${'Cosmos reads:'.padEnd(13)} ${formatCount(Math.round(progress.requestUnits))} RU, ` +
      `${formatCount(progress.throttled)} throttled (429)`,
  );
  if (progress.displaced > 0) {
    lines.push(
      `  ${'Displaced:'.padEnd(13)} ${formatCount(progress.displaced)} (older rows moved to the quarantine by newer ` +
        `documents of the same pubkey)`,
    );
  }
  const unstored = progress.quarantined + progress.failed;
  if (unstored > 0) {
    lines.push(
      '',
      progress.dryRun
        ? `${formatCount(unstored)} document(s) cannot be mapped and would go to the quarantine table with the reason.`
        : `${formatCount(unstored)} document(s) could not be stored in their table; each is kept in the quarantine ` +
            `table with the reason (\`npm run migrate:stats\` counts them by type).`,
    );
  }
  return lines.join('\n');
}

/** What to say when a run stopped at Ctrl-C. */
export function describeInterruption(progress: MigrationProgress | undefined, dryRun: boolean, resumeCommand: string): string {
  const done = `Interrupted after ${formatCount(progress?.processed ?? 0)} documents.`;
  if (dryRun) return `${done} A dry run writes nothing and keeps no checkpoint; run it again to start over.`;
  return (
    `${done} Everything up to the last batch is committed with its checkpoint; the run is recorded as ` +
    `interrupted.\nResume with: ${resumeCommand}`
  );
}
