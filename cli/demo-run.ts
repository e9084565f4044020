import { loadDocuments } from '../dev/local-services/load-documents.js';
import { type LocalEnvironment, startLocalEnvironment } from '../dev/local-services/local-environment.js';
import { demoDocuments } from '../dev/sample-data/demo-dataset.js';
import { generateUser } from '../dev/sample-data/generate-documents.js';
import { DataMigrationUtility } from '../shared/api/data-migration-utility.js';
import { countDocuments } from '../shared/cosmos/document-source.js';
import { closeServices, useServices } from '../shared/runtime/services.js';
import { formatStatsForHumans, getMigrationStats } from '../shared/stats/index.js';
import { formatFullVerificationReport, formatVerificationReport, verifyUser } from '../shared/verification/index.js';
import { type CommandIO, ExitCode } from './command.js';
import { describeRun, runWithProgress } from './migration-runner.js';
import { createProgressReporter } from './progress-reporter.js';
import { verifyEverything } from './verification-runner.js';

export interface DemoOptions {
  users: number;
  seed: number;
  batchSize: number;
}

/** Above this many documents the local Cosmos stand-in slows down sharply (its reads scan the container). */
const standInComfortLimit = 10_000;

/**
 * The whole migration on throwaway local services: start them, load a generated dataset into Cosmos,
 * migrate everything with progress, verify everything, spot-check one user field by field, print the
 * stats, stop everything. Returns the exit code: 0 when verification finds the two sides consistent.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const say = (text: string) => process.stdout.write(`${text}\n`);
  let environment: LocalEnvironment | undefined;
  // An object, not a `let`: the signal handler sets it, which control-flow analysis cannot see.
  const state = { interrupted: false };
  // Stopping the services makes whatever is in flight fail; that failure is then reported as the interruption.
  const onSignal = () => {
    if (state.interrupted) return;
    state.interrupted = true;
    say('\nInterrupted: stopping the local services. The demo keeps nothing, so there is nothing to resume.');
    void shutdown(environment);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    environment = await startLocalEnvironment(say);
    const services = useServices({ config: environment.config, prisma: environment.prisma, cosmos: environment.container });
    const io: CommandIO = {
      json: false,
      result: say,
      log: say,
      progress: createProgressReporter(),
      services: () => services,
    };

    say(`\nLoading a generated Nostria dataset of ${options.users.toLocaleString('en-US')} users (seed ${options.seed}) into Cosmos...`);
    // Generating is cheap next to loading: a first pass just counts, so the bar has a total.
    let documents = 0;
    for (const _ of demoDocuments(options.users, options.seed)) documents += 1;
    const loaded = await loadDocuments(environment.container, demoDocuments(options.users, options.seed), {
      onProgress: (count) => io.progress.update({ label: 'Loading Cosmos', done: count, total: documents }),
    });
    io.progress.stop();
    say(
      `  ${loaded.loaded.toLocaleString('en-US')} documents in Cosmos, including deliberately broken ones the migration must quarantine.`,
    );
    if (loaded.refused.length > 0)
      say(
        `  Cosmos itself refused ${loaded.refused.length} broken document(s) (no id, or an id that is not a string): they never reach a migration.`,
      );
    if (loaded.loaded > standInComfortLimit)
      say(`  Note: past ~${standInComfortLimit.toLocaleString('en-US')} documents the local Cosmos stand-in slows down sharply.`);

    say(`\nMigrating everything (batches of ${options.batchSize})...`);
    const total = await countDocuments(environment.container, {});
    const outcome = await runWithProgress(
      io,
      'Migrating',
      total,
      (onProgress) => DataMigrationUtility.migrateAll({ batchSize: options.batchSize, onProgress }),
      { stopAfterBatchOnCtrlC: false },
    );
    if (outcome.state !== 'completed') return ExitCode.interrupted;
    say(describeRun('Full migration', outcome.progress));

    say('\nVerifying everything (counts, then a content hash per document)...');
    // A few examples per finding are enough on screen; the counts are always complete.
    const verification = await verifyEverything(io, services, { repair: false, pageSize: options.batchSize, maxListed: 8 });
    say(formatFullVerificationReport(verification.report));

    const spotCheck = generateUser({ seed: options.seed, index: 0, messy: true })[0]?.pubkey;
    if (spotCheck) {
      say('\nField-by-field check of one user (what `npm run migrate:verify <pubkey>` prints):');
      say(formatVerificationReport(await verifyUser(services, spotCheck)));
    }

    say('');
    say(formatStatsForHumans(await getMigrationStats(services)));
    say(
      verification.consistent
        ? '\nDone: every document is in its table or in the quarantine with its reason, and both sides agree.'
        : '\nDone, but verification found differences (listed above).',
    );
    return verification.consistent ? ExitCode.ok : ExitCode.failed;
  } catch (error) {
    if (state.interrupted) return ExitCode.interrupted;
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await shutdown(environment);
    say('Local services stopped; their data is gone.');
  }
}

async function shutdown(environment: LocalEnvironment | undefined): Promise<void> {
  await closeServices().catch(() => undefined);
  await environment?.stop();
}
