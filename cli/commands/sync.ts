import { type ChangeFeedMode, changeFeedModeFrom } from '../../shared/config/change-feed-mode.js';
import { InterruptedError, InvalidInputError } from '../../shared/core/errors.js';
import { rangeLabel } from '../../shared/cosmos/feed-ranges.js';
import type { SyncPageEvent, SyncRunSummary, SyncStart } from '../../shared/sync/sync-runner.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { describeFailure, recogniseFailure } from '../core/failure.js';
import { flag, quote, sharedOptions, valued } from '../core/options.js';
import { databaseSettings } from '../core/settings.js';
import { describeSyncPage, describeSyncTotals } from '../sync-report.js';
import { readSettings } from './command-texts.js';

const modes: readonly ChangeFeedMode[] = ['LatestVersion', 'AllVersionsAndDeletes'];

function parseMode(text: string, name: string): ChangeFeedMode {
  const mode = modes.find((candidate) => candidate.toLowerCase() === text.trim().toLowerCase());
  if (!mode) throw new InvalidInputError(name, `expected LatestVersion or AllVersionsAndDeletes, got ${quote(text)}`);
  return mode;
}

function parseStart(text: string, name: string): SyncStart {
  const value = text.trim();
  if (value === 'now' || value === 'beginning') return { from: value };
  // An ISO 8601 date and time with its zone, so the point of the feed cannot depend on this machine's time zone.
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    throw new InvalidInputError(
      name,
      `expected now, beginning or an ISO 8601 time with its zone (2026-11-28T09:30:00Z), got ${quote(text)}`,
    );
  }
  return { from: 'time', time };
}

export const syncCommand = defineCommand({
  script: 'migrate:sync',
  entry: 'cli/migrate.ts sync',
  summary: 'follow the change feed into PostgreSQL, without Functions',
  description: [
    "Follows Cosmos DB's change feed, every feed range, and applies each page of changes to PostgreSQL through",
    'the same path as the cosmosSync function (mapping, quarantine, version guard; deletes in',
    'AllVersionsAndDeletes mode). It starts where PostgreSQL stands in the feed (where the last full load',
    "ended, or where migrate:sync or migrate:incremental left it) and saves each range's position after every",
    'applied page, so it can be stopped and started again at any time. --from starts elsewhere instead and',
    'replaces the positions. A page that fails is tried again with backoff from the last applied position.',
    'With --once it stops when every range has caught up; otherwise it runs until Ctrl-C. It writes what the',
    'sync function writes, so it needs no MIGRATION_MODE; while USE_POSTGRESQL=true it applies nothing (the',
    "changes are the mirror's own writes), like the function. AllVersionsAndDeletes starts only from the",
    'positions or from now (Cosmos refuses the beginning and points in time in that mode).',
  ].join('\n'),
  options: {
    mode: valued('<mode>', 'LatestVersion or AllVersionsAndDeletes (default: COSMOSDB_CHANGE_FEED_MODE, else LatestVersion).', parseMode),
    from: valued('<when>', 'now, beginning, or an ISO 8601 time (default: the saved positions).', parseStart),
    once: flag('Stop once every feed range has caught up (exit 0), instead of following the feed until Ctrl-C.'),
    batchSize: sharedOptions.batchSize('Changes per Cosmos page and per PostgreSQL write (1-5000; default 100).'),
    maxRu: sharedOptions.maxRu,
    concurrency: sharedOptions.concurrency,
    json: sharedOptions.json,
  },
  settings: [...databaseSettings, 'COSMOSDB_CHANGE_FEED_MODE', ...readSettings, 'USE_POSTGRESQL'],
  exitCodes: {
    ok: 'with --once: every feed range caught up, its position saved',
    failed: 'no position to start from (run migrate:full first, or use --from), a batch the mode cannot read, or settings are missing',
    interrupted: 'interrupted (Ctrl-C): stopped after the pages being applied; every position is saved, run it again to go on',
  },
  prepare: ({ values }) => {
    refuseStart(values.mode, values.from, '--mode');
    return async (io) => {
      const mode = values.mode ?? changeFeedModeFrom(io.env);
      refuseStart(mode, values.from, 'COSMOSDB_CHANGE_FEED_MODE');
      const services = io.services();
      const { runSync } = await import('../../shared/sync/sync-runner.js');
      io.log(`Following the change feed (${mode}${values.once ? ', until every range has caught up' : ', Ctrl-C to stop'})...`);
      let summary: SyncRunSummary | undefined;
      let last: SyncPageEvent['totals'] | undefined;
      try {
        summary = await runSync(services, {
          mode,
          start: values.from,
          once: values.once,
          batchSize: values.batchSize,
          maxRequestUnitsPerSecond: values.maxRu,
          concurrency: values.concurrency,
          signal: io.signal,
          onPage: (event) => {
            last = event.totals;
            if (event.changes > 0) io.log(describeSyncPage(event));
          },
          onRetry: ({ range, attempt, delayMs, error }) =>
            io.log(
              `range ${rangeLabel(range)}: page failed (try ${attempt}), trying again in ${(delayMs / 1000).toFixed(1)} s: ` +
                describeFailure(recogniseFailure(error, services.config), services.config),
            ),
        });
      } catch (error) {
        if (!(error instanceof InterruptedError)) throw error;
        io.log("Stopped: every range's position is saved; run it again to go on from there.");
        if (io.json) io.result(JSON.stringify({ state: 'interrupted', totals: last ?? null }, null, 2));
        else if (last) io.result(describeSyncTotals('Sync (interrupted)', last));
        return ExitCode.interrupted;
      }
      io.result(
        io.json
          ? JSON.stringify({ state: 'caught-up', ...summary }, null, 2)
          : describeSyncTotals('Sync (caught up)', summary, summary.ranges),
      );
      return ExitCode.ok;
    };
  },
});

/**
 * Cosmos starts the AllVersionsAndDeletes feed only from now or from a continuation ("Change feed pull model",
 * learn.microsoft.com): a start it would refuse is a bad argument, said before anything is touched.
 */
function refuseStart(mode: ChangeFeedMode | undefined, start: SyncStart | undefined, modeFrom: string): void {
  if (mode !== 'AllVersionsAndDeletes' || (start?.from !== 'beginning' && start?.from !== 'time')) return;
  const what = start.from === 'time' ? 'a point in time' : 'the beginning';
  throw new InvalidInputError(
    '--from',
    `AllVersionsAndDeletes (${modeFrom}) cannot start from ${what}: Cosmos starts it only from now or a saved position`,
  );
}
