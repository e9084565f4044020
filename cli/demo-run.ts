import { generateUser } from '../dev/sample-data/generate-documents.js';
import { DataMigrationUtility } from '../shared/api/data-migration-utility.js';
import { InterruptedError } from '../shared/core/errors.js';
import { countDocuments } from '../shared/cosmos/document-source.js';
import type { MigrationProgress } from '../shared/migration/index.js';
import { useServices } from '../shared/runtime/services.js';
import { formatStatsForHumans, getMigrationStats, type MigrationStats } from '../shared/stats/index.js';
import { formatCount } from '../shared/stats/type-labels.js';
import {
  type FullVerificationReport,
  formatFullVerificationReport,
  formatVerificationReport,
  verifyUser,
} from '../shared/verification/index.js';
import type { CommandIO } from './core/command.js';
import { ExitCode } from './core/exit-codes.js';
import { interruptionOf, untilInterrupted } from './core/interrupt.js';
import { demoLiveSync } from './demo-live-sync.js';
import { demoSwitch } from './demo-switch.js';
import { asInterruption, loadSampleData, type SampleData, startLocalServices } from './local-services.js';
import { describeRun, partLabel, runWithProgress } from './migration-progress.js';
import { verifyEverything } from './verification-runner.js';

export interface DemoOptions extends SampleData {
  batchSize: number;
}

/**
 * The whole migration on throwaway local services: start them, load a generated dataset into Cosmos,
 * migrate everything with progress per feed range, follow the change feed with the sync runner while
 * changes are written to Cosmos, verify everything, spot-check one user field by field, print the
 * stats, stop everything. Returns the exit code: 0 when verification finds the two sides consistent.
 *
 * Ctrl-C at any point stops what is running, then both services, and deletes their data (exit 130).
 * A Ctrl-C from a terminal reaches PostgreSQL too, which then stops on its own: whatever fails after
 * the signal is part of the interruption, not a failure of the demo.
 */
export async function runDemo(io: CommandIO, options: DemoOptions): Promise<number> {
  try {
    return await demo(io, options);
  } catch (error) {
    const failure = await asInterruption(io, error);
    if (failure instanceof InterruptedError) io.result('\nInterrupted: the demo keeps nothing, so there is nothing to resume.');
    throw failure;
  }
}

async function demo(io: CommandIO, options: DemoOptions): Promise<number> {
  const environment = await startLocalServices(io);
  const services = useServices({ config: environment.config, prisma: environment.prisma, cosmos: environment.container });
  const loaded = await loadSampleData(io, environment, options);

  io.result(`\nMigrating everything (batches of ${options.batchSize})...`);
  const total = await countDocuments(environment.container, {});
  const outcome = await runWithProgress(io, 'Migrating', total, (hooks) =>
    DataMigrationUtility.migrateAll({ batchSize: options.batchSize, ...hooks }),
  );
  if (outcome.state !== 'completed') throw interruptionOf(io.signal);
  io.result(describeRun('Full migration', outcome.progress));
  io.result(describeRanges(outcome.progress));

  await demoLiveSync(io, services, environment.container, options);
  const switches = await demoSwitch(io, services);

  io.result("\nVerifying everything, feed range by feed range (a content hash per document, then each range's rows)...");
  // A few examples per finding are enough on screen; the counts are always complete.
  const verification = await verifyEverything(io, services, { repair: false, pageSize: options.batchSize, maxListed: 8 });
  io.result(formatFullVerificationReport(verification.report));

  const spotCheck = generateUser({ seed: options.seed, index: 0, messy: true })[0]?.pubkey;
  if (spotCheck) {
    io.result('\nField-by-field check of one user (what `npm run migrate:verify <pubkey>` prints):');
    io.result(formatVerificationReport(await untilInterrupted(verifyUser(services, spotCheck), io.signal)));
  }

  const stats = await untilInterrupted(getMigrationStats(services), io.signal);
  io.result(`\n${formatStatsForHumans(stats)}`);
  io.result(`\n${reconcileQuarantine(outcome.progress, verification.report, stats, loaded.refused.length)}`);
  const switched = switches.length === 2 && switches.every((result) => result.outcome === 'completed');
  io.result(
    verification.consistent && switched
      ? '\nDone: every document is in its table or in the quarantine with its reason, both sides agree, and the switch ' +
          `went to PostgreSQL and back (writes held ${switches.map((result) => `${formatCount(result.pauseMs ?? 0)} ms`).join(' and ')}).`
      : `\nDone, but ${verification.consistent ? 'the switch did not complete' : 'verification found differences'} (see above).`,
  );
  return verification.consistent && switched ? ExitCode.ok : ExitCode.failed;
}

/** How the full load spread over the physical partitions: documents read per feed range, one chain each. */
function describeRanges(progress: MigrationProgress): string {
  const parts = Object.entries(progress.processedByPart);
  return [
    `  Read per feed range (${parts.length} physical partitions, one chain each):`,
    ...parts.map(([part, count]) => `    ${partLabel(part)}: ${formatCount(count ?? 0)}`),
  ].join('\n');
}

/**
 * The quarantine is counted three times, by three readers of it: the run (documents it could not store,
 * plus rows that newer documents displaced), verification (documents of the seven types only) and the
 * stats (rows of the quarantine table, unknown types included). Each number is shown with what makes it
 * differ from the others, and a difference nothing explains is said to be one.
 */
export function reconcileQuarantine(
  run: MigrationProgress,
  verification: Pick<FullVerificationReport, 'quarantined'>,
  stats: Pick<MigrationStats, 'quarantined' | 'quarantinedByType'>,
  refusedByCosmos: number,
): string {
  const byRun = run.quarantined + run.failed + run.displaced;
  const unknownType = stats.quarantinedByType.other;
  const displaced =
    run.displaced > 0
      ? ` (${formatCount(run.quarantined + run.failed)} it could not store + ${formatCount(run.displaced)} displaced rows)`
      : '';
  const lines = [
    'Quarantine, counted three ways:',
    `  the run sent ${formatCount(byRun)} document(s) there${displaced};`,
    `  the stats count ${formatCount(stats.quarantined)} entries in the quarantine table, ${formatCount(unknownType)} ` +
      `of them of no known type;`,
    `  verification lists ${formatCount(verification.quarantined.count)}: it compares the seven types only, so the ` +
      `${formatCount(unknownType)} of no known type are not among them.`,
  ];
  if (refusedByCosmos > 0) {
    lines.push(
      `  Not counted anywhere: the ${formatCount(refusedByCosmos)} document(s) Cosmos itself refused, which never reached the migration.`,
    );
  }
  const problems: string[] = [];
  if (stats.quarantined !== byRun) problems.push(`the table holds ${formatCount(stats.quarantined)}, the run sent ${formatCount(byRun)}`);
  const ofKnownTypes = stats.quarantined - unknownType;
  if (verification.quarantined.count !== ofKnownTypes) {
    problems.push(
      `verification lists ${formatCount(verification.quarantined.count)}, the table holds ${formatCount(ofKnownTypes)} of the seven types`,
    );
  }
  lines.push(problems.length === 0 ? '  They agree.' : `  They do not agree, and nothing above explains it: ${problems.join('; ')}.`);
  return lines.join('\n');
}
