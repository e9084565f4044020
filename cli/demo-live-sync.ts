import type { Container } from '@azure/cosmos';
import { type WrittenChanges, writeChanges } from '../dev/local-services/write-changes.js';
import { planLiveChanges } from '../dev/sample-data/live-changes.js';
import type { AppContext } from '../shared/context/app-context.js';
import { InterruptedError } from '../shared/core/errors.js';
import { formatCount } from '../shared/stats/type-labels.js';
import { noSyncTotals, runSync, type SyncTotals } from '../shared/sync/sync-runner.js';
import type { CommandIO } from './core/command.js';
import { interruptionOf } from './core/interrupt.js';
import { describeSyncPage, describeSyncTotals } from './sync-report.js';

export interface LiveSyncOptions {
  /** The loaded dataset's size and seed: the changes are made to its documents. */
  users: number;
  seed: number;
  /** Changes per change-feed page. */
  batchSize: number;
}

/** The feed the demo follows: every create, replace and delete, so deletes reach PostgreSQL too. */
const mode = 'AllVersionsAndDeletes';
/** A caught-up range is read again this often: short, so each wave is seen arriving. */
const pollIntervalMs = 200;

/**
 * The sync after the full load, live: the sync runner of `npm run migrate:sync` follows the change feed
 * from where the load ended, while the demo writes changes to Cosmos in waves (new users, replaced
 * accounts, upserted settings, deleted logs). Each wave is waited for until the runner has applied every
 * one of its changes (in this mode each Cosmos operation is one change of the feed), then the runner is
 * stopped, its positions saved. Returns the runner's totals.
 */
export async function demoLiveSync(
  io: CommandIO,
  services: AppContext,
  container: Container,
  options: LiveSyncOptions,
): Promise<SyncTotals> {
  const waves = planLiveChanges({ users: options.users, seed: options.seed, now: Date.now() });
  io.result(
    `\nFollowing the change feed with the sync runner (what \`npm run migrate:sync -- --mode ${mode}\` runs), ` +
      `from where the full load ended, while the app writes to Cosmos in ${waves.length} waves...`,
  );
  const stop = new AbortController();
  const onInterrupt = () => stop.abort(io.signal.reason);
  io.signal.addEventListener('abort', onInterrupt, { once: true });
  let totals: SyncTotals | undefined;
  let waiting: { changes: number; resolve: () => void } | undefined;
  const runner = runSync(services, {
    mode,
    batchSize: options.batchSize,
    pollIntervalMs,
    signal: stop.signal,
    onPage: (event) => {
      totals = event.totals;
      if (event.changes > 0) io.result(`  ${describeSyncPage(event)}`);
      if (waiting && event.totals.changes >= waiting.changes) waiting.resolve();
    },
  });
  // Follows until stopped: it only ever ends by failing or being stopped.
  const ended = runner.then(() => {
    throw new Error('the sync runner stopped following the change feed on its own');
  });
  ended.catch(() => undefined);
  try {
    let expected = 0;
    for (const [index, wave] of waves.entries()) {
      io.result(`Wave ${index + 1}: writing ${formatCount(wave.length)} changes to Cosmos...`);
      const written = await writeChanges(container, wave, io.signal);
      expected += wave.length;
      const applied = new Promise<void>((resolve) => {
        waiting = { changes: expected, resolve };
        if ((totals?.changes ?? 0) >= expected) resolve();
      });
      await Promise.race([applied, ended]);
      io.result(`Wave ${index + 1}: ${describeWritten(written)}, every one applied by the sync runner.`);
    }
  } finally {
    stop.abort(new Error('the demo has seen every change applied'));
    io.signal.removeEventListener('abort', onInterrupt);
    await runner.catch((error: unknown) => {
      if (!(error instanceof InterruptedError)) throw error;
    });
  }
  if (io.signal.aborted) throw interruptionOf(io.signal);
  const summary = totals ?? noSyncTotals();
  io.result(describeSyncTotals(`Live sync (${mode})`, summary));
  return summary;
}

function describeWritten(written: WrittenChanges): string {
  return (
    `${formatCount(written.created)} created, ${formatCount(written.replaced)} replaced, ` +
    `${formatCount(written.upserted)} upserted, ${formatCount(written.deleted)} deleted`
  );
}
