import { InterruptedError, NothingToResumeError } from '../../shared/core/errors.js';
import type { ReconcileCounts } from '../../shared/migration/reconcile-passes.js';
import type { QuarantineSweep } from '../../shared/quarantine/index.js';
import { formatCount } from '../../shared/stats/type-labels.js';
import type { ReconcileSample } from '../../shared/sync/reconcile.js';
import { telemetryLine } from '../../shared/telemetry/telemetry.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { flag, sharedOptions } from '../core/options.js';
import { databaseSettings } from '../core/settings.js';
import { readSettings } from './command-texts.js';

export const reconcileCommand = defineCommand({
  script: 'migrate:reconcile',
  entry: 'cli/migrate.ts reconcile',
  summary: 'find PostgreSQL rows whose documents were deleted in Cosmos (--apply: remove them)',
  description: [
    "Deletes in LatestVersion mode: Cosmos's change feed never shows a delete in that mode, so a document deleted",
    'in Cosmos keeps its PostgreSQL row. This works feed range by feed range (physical partition), up to',
    "--concurrency at once, as the full load does: it reads the range's change feed from the beginning (about what",
    "the full load's read of it costs), then compares the range's PostgreSQL rows with what it read, and confirms",
    'each row Cosmos lacks with a point read. Without --apply (a dry run) it only reports. With --apply it removes',
    'each confirmed row if it still holds the version the pass read (a row written meanwhile stays), copying it',
    'first to reconciled_deletes (with the pass id) so it can be put back, and recording a tombstone so a stale copy',
    'cannot bring it back. A document created again during the pass is found by the point read and kept. Each pass',
    'is recorded; migrate:stats shows the last. Once every row is compared, the open quarantine entries are swept the',
    'same way: each whose document Cosmos no longer has (a point read says) is closed with --apply (kept, recorded as',
    'closed by the pass), counted otherwise. Reads run under the shared request-unit budget. Refused with --apply while',
    'PostgreSQL is primary (a row Cosmos lacks may then be a write the mirror has not copied yet).',
    'With --resume it continues the most recent pass of the same kind (dry run, or --apply) that did not complete,',
    'each range from the page where it stopped, adding to its counts. A telemetry line (docs/telemetry.md) goes to',
    'stderr as each range is done and when the pass completes.',
  ].join('\n'),
  options: {
    apply: flag('Remove the rows confirmed gone from Cosmos (needs MIGRATION_MODE=true). Without it nothing is changed.'),
    resume: flag(
      'Continue the most recent pass of the same kind (dry run, or --apply) that did not complete, from where it stopped ' +
        '(exit 1 if there is none).',
    ),
    batchSize: sharedOptions.batchSize('Documents per change-feed page and PostgreSQL rows per page (1-5000; default 1000).'),
    maxRu: sharedOptions.maxRu,
    concurrency: sharedOptions.concurrency,
    json: sharedOptions.json,
  },
  settings: [
    ...databaseSettings,
    ['MIGRATION_MODE', 'must be true with --apply (it removes rows); a dry run needs nothing'],
    ['USE_POSTGRESQL', 'true refuses --apply: rows Cosmos lacks may be writes not mirrored yet'],
    ...readSettings,
  ],
  exitCodes: {
    ok: 'the pass completed (a dry run removed nothing; with --apply every confirmed row unchanged since it was read is removed)',
    failed:
      'a database could not be read or written, MIGRATION_MODE is not true (--apply), USE_POSTGRESQL=true (--apply), ' +
      'or settings are missing',
    interrupted:
      'interrupted (Ctrl-C): stopped after the page in hand, recorded as interrupted; what it removed stays removed ' +
      '(and audited), continue it with --resume',
  },
  prepare: ({ values }) => {
    const { apply, concurrency } = values;
    return async (io) => {
      const services = io.services();
      const { reconcile } = await import('../../shared/sync/reconcile.js');
      const { reconcileTelemetry } = await import('../../shared/sync/reconcile-telemetry.js');
      const { lastUnfinishedPass } = await import('../../shared/migration/reconcile-passes.js');
      const resumed = values.resume ? await lastUnfinishedPass(services.prisma, !apply) : undefined;
      if (resumed === null) throw new NothingToResumeError('migrate:reconcile');
      const verb = apply ? 'Reconciling' : 'Reconciling (dry run)';
      let last: { passId: string; counts: ReconcileCounts } | undefined;
      try {
        const outcome = await reconcile(services, {
          apply,
          ...(resumed === undefined ? {} : { passId: resumed }),
          chunkSize: values.batchSize,
          maxRequestUnitsPerSecond: values.maxRu,
          concurrency,
          signal: io.signal,
          // Read and compared, each about the rows there are: the bar counts both halves of the work.
          onProgress: ({ passId, counts, total }) => {
            last = { passId, counts };
            const done = Math.min(counts.documents, total) + counts.scanned;
            io.progress.update({ label: verb, done, total: 2 * total, detail: describeProgress(counts, apply) });
          },
          onRangeDone: ({ passId, rangeKey, dryRun, counts }) =>
            io.log(telemetryLine(reconcileTelemetry('reconcile.range', { passId, dryRun, rangeKey }, counts))),
        });
        io.progress.stop();
        const { passId, dryRun, sample, reconsidered, quarantine, done, ...counts } = outcome;
        io.log(telemetryLine(reconcileTelemetry('reconcile.pass', { passId, dryRun }, counts)));
        io.result(
          io.json
            ? JSON.stringify({ state: 'completed', passId, dryRun, ...counts, reconsidered, sample, quarantine }, null, 2)
            : describePass(passId, counts, apply, sample, 'completed', reconsidered, quarantine),
        );
        return ExitCode.ok;
      } catch (error) {
        io.progress.stop();
        if (!(error instanceof InterruptedError)) throw error;
        io.log('Stopped after the page in hand; the pass is recorded as interrupted. Continue it with --resume.');
        if (io.json) io.result(JSON.stringify({ state: 'interrupted', passId: last?.passId ?? null, ...(last?.counts ?? {}) }, null, 2));
        else if (last) io.result(describePass(last.passId, last.counts, apply, [], 'interrupted'));
        return ExitCode.interrupted;
      }
    };
  },
});

function describeProgress(counts: ReconcileCounts, apply: boolean): string {
  const done = apply ? `${formatCount(counts.removed)} removed` : `${formatCount(counts.confirmed)} would be removed`;
  return `${formatCount(counts.documents)} read, ${formatCount(counts.scanned)} compared, ${formatCount(counts.candidates)} missing in Cosmos, ${done}`;
}

function quarantineLines(sweep: QuarantineSweep, apply: boolean): string[] {
  const gone = apply
    ? `${formatCount(sweep.gone)} gone from Cosmos, ${formatCount(sweep.closed)} closed`
    : `${formatCount(sweep.gone)} gone from Cosmos (would be closed)`;
  const unaddressable = sweep.unaddressable > 0 ? `, ${formatCount(sweep.unaddressable)} without an id a point read can name` : '';
  return [
    `  Open quarantine entries:   ${formatCount(sweep.checked)} checked, ${gone}${unaddressable}; ` +
      `${formatCount(Math.round(sweep.requestUnits))} RU`,
  ];
}

function sampleLines(sample: readonly ReconcileSample[], apply: boolean): string[] {
  if (sample.length === 0) return [];
  const heading = apply ? 'First rows removed:' : 'First rows that would be removed:';
  return ['', heading, ...sample.map((row) => `  ${row.table} ${row.id} (pubkey ${row.pubkey})`)];
}

function describePass(
  passId: string,
  counts: ReconcileCounts,
  apply: boolean,
  sample: readonly ReconcileSample[],
  state = 'completed',
  reconsidered = 0,
  quarantine: QuarantineSweep | null = null,
): string {
  return [
    `=== Reconcile${apply ? '' : ' (dry run)'} ${state} ===`,
    `  Pass:                      ${passId}`,
    `  Cosmos documents read:     ${formatCount(counts.documents)}`,
    `  Rows compared:             ${formatCount(counts.scanned)}`,
    `  Missing in Cosmos:         ${formatCount(counts.candidates)}`,
    `  Confirmed gone:            ${formatCount(counts.confirmed)}`,
    `  Removed:                   ${formatCount(counts.removed)}${apply ? ' (copied to reconciled_deletes)' : ''}`,
    `  Kept, created again:       ${formatCount(counts.keptRecreated)}`,
    `  Kept, changed since read:  ${formatCount(counts.keptChanged)}`,
    ...(reconsidered > 0
      ? [`  Competitors let in:        ${formatCount(reconsidered)} (quarantined documents that wanted a removed row)`]
      : []),
    `  Cosmos reads:              ${formatCount(Math.round(counts.requestUnits))} RU, ${formatCount(counts.throttled)} throttled (429)`,
    ...(quarantine ? quarantineLines(quarantine, apply) : []),
    ...sampleLines(sample, apply),
    ...(apply || counts.confirmed === 0
      ? []
      : ['', `To remove the ${formatCount(counts.confirmed)} row(s): npm run migrate:reconcile -- --apply`]),
  ].join('\n');
}
