import type { ChangeFeedMode } from '../config/change-feed-mode.js';
import type { AppContext } from '../context/app-context.js';
import { type Clock, systemClock } from '../core/clock.js';
import { AppError, InvalidInputError, NoChangeFeedPositionsError, throwIfInterrupted } from '../core/errors.js';
import { ChangeFeedReader, type ChangeFeedStart } from '../cosmos/change-feed-reader.js';
import { listFeedRanges, parseRangeKey, rangeKey } from '../cosmos/feed-ranges.js';
import { advancePosition, clearPositions, loadPosition, loadPositions } from '../migration/change-feed-positions.js';
import { readSettingsOf } from '../migration/read-budget.js';
import { type SyncOutcome, syncChangeBatch } from './sync-change-batch.js';

/**
 * The sync without Functions (`npm run migrate:sync`): follows the change feed of every feed range with
 * the pull model and applies each page through the very path the Cosmos-triggered function uses
 * (`syncChangeBatch`: same mapping, quarantine and version guard; deletes in AllVersionsAndDeletes mode;
 * a batch shaped for the other mode refused). After each applied page the range's position in PostgreSQL
 * moves on (compare-and-set, `change_feed_positions`), so a stopped runner continues where it stood, and
 * `migrate:incremental` and a later runner share its positions. Delivery is at least once: a page applied
 * just before a crash, whose position was not saved, is applied again, which the version guard makes harmless.
 *
 * A page that fails (PostgreSQL or Cosmos unreachable) is retried with backoff from the last applied
 * position: the runner holds its place rather than deferring anything. With `once` it stops when every
 * range has caught up (answered 304); otherwise it polls each caught-up range every `pollIntervalMs`
 * until its signal is aborted. AllVersionsAndDeletes starts only from the positions or from now, as Cosmos allows.
 */

/**
 * Where the runner starts: PostgreSQL's positions (a completed full load's end, or where a runner or catch-up left
 * them), or a point of the feed.
 */
export type SyncStart = { from: 'positions' } | { from: 'now' } | { from: 'beginning' } | { from: 'time'; time: Date };

export interface SyncTotals {
  /** Pages that carried changes. */
  pages: number;
  changes: number;
  written: number;
  unchanged: number;
  quarantined: number;
  failed: number;
  deleted: number;
  /** The mirror's own copies of PostgreSQL's writes, never written back. */
  echoes: number;
  /** Versions kept in the quarantine as diverged (`diverged-changes.ts`). */
  diverged: number;
  /** Request units the reads were charged. */
  requestUnits: number;
  /** 429s the reads met (the SDK's own retries included). */
  throttled: number;
}

export interface SyncPageEvent {
  /** The feed range's key. */
  range: string;
  changes: number;
  /** The range answered 304: nothing newer, now. */
  caughtUp: boolean;
  /** What the sync did with the page's changes (absent for a page without any). */
  outcome?: SyncOutcome;
  totals: SyncTotals;
}

export interface SyncRunnerOptions {
  mode: ChangeFeedMode;
  /** Default: the positions. Any other start replaces the positions (from the first page on). */
  start?: SyncStart;
  /** Stop once every range has caught up. */
  once?: boolean;
  /** Changes per page at most. Default 100. */
  batchSize?: number;
  /** Request units per second, shared with every process reading under the same budget. Default MIGRATION_MAX_RU_PER_SECOND. */
  maxRequestUnitsPerSecond?: number;
  /** Ranges whose pages are read and applied at the same time. Default 4. */
  concurrency?: number;
  /** How long a caught-up range rests before it is read again (not with `once`). Default 1000 ms. */
  pollIntervalMs?: number;
  /** With `once`: tries of a failing page before the runner gives up (without `once` it keeps trying). Default 6. */
  attempts?: number;
  /** Stops the runner after the pages being applied, their positions saved. */
  signal?: AbortSignal;
  onPage?: (event: SyncPageEvent) => void;
  /** Told about each failed page before it is tried again. */
  onRetry?: (event: { range: string; attempt: number; delayMs: number; error: unknown }) => void;
  clock?: Clock;
}

/** Totals before the first page. */
export function noSyncTotals(): SyncTotals {
  return {
    pages: 0,
    changes: 0,
    written: 0,
    unchanged: 0,
    quarantined: 0,
    failed: 0,
    deleted: 0,
    echoes: 0,
    diverged: 0,
    requestUnits: 0,
    throttled: 0,
  };
}

export interface SyncRunSummary extends SyncTotals {
  /** Feed ranges followed. */
  ranges: number;
}

const defaults = { batchSize: 100, concurrency: 4, pollIntervalMs: 1000, attempts: 6, baseDelayMs: 500, maxDelayMs: 60_000 };

/** A range the runner follows: its key, where it starts, and what its position row holds (null: none yet). */
interface FollowedRange {
  key: string;
  start: ChangeFeedStart;
  saved: string | null;
}

/**
 * Runs the sync until every range is caught up (`once`) or the signal is aborted (then it throws
 * `InterruptedError`, every position saved). Throws `NoChangeFeedPositionsError` when starting from
 * positions that do not exist yet, and `InvalidInputError` for a start the mode cannot take.
 */
export async function runSync(ctx: AppContext, options: SyncRunnerOptions): Promise<SyncRunSummary> {
  const start = options.start ?? { from: 'positions' };
  if (options.mode === 'AllVersionsAndDeletes' && (start.from === 'beginning' || start.from === 'time')) {
    // Cosmos starts that mode only from now or from a continuation (Change feed pull model, learn.microsoft.com).
    throw new InvalidInputError(
      'start',
      `the AllVersionsAndDeletes change feed cannot start from ` +
        `${start.from === 'time' ? 'a point in time' : 'the beginning'} (Cosmos refuses it): start from the positions or from now`,
    );
  }
  const totals = noSyncTotals();
  let ranges = start.from === 'positions' ? await rangesFromPositions(ctx) : await rangesFrom(ctx, start);
  for (;;) {
    const round = await followAll(ctx, ranges, options, totals);
    if (!round.replaced) break;
    // A full load completed meanwhile and replaced the positions: carry on from the new set.
    ranges = await rangesFromPositions(ctx);
  }
  throwIfInterrupted(options.signal);
  return { ...totals, ranges: ranges.length };
}

async function rangesFromPositions(ctx: AppContext): Promise<FollowedRange[]> {
  const positions = await loadPositions(ctx.prisma);
  if (positions.length === 0) throw new NoChangeFeedPositionsError();
  return positions.map((position) => ({
    key: position.rangeKey,
    start: { from: 'continuation', continuation: position.continuation },
    saved: position.continuation,
  }));
}

/** The container's ranges now, each from `start`; the old positions go, the first page of each range writes its new one. */
async function rangesFrom(ctx: AppContext, start: Exclude<SyncStart, { from: 'positions' }>): Promise<FollowedRange[]> {
  const ranges = await listFeedRanges(ctx.cosmos);
  await clearPositions(ctx.prisma);
  return ranges.map((bounds) => ({ key: rangeKey(bounds), start, saved: null }));
}

/** Follows every range until each is caught up (`once`), the signal aborts, or the positions were replaced under it. */
async function followAll(
  ctx: AppContext,
  ranges: readonly FollowedRange[],
  options: SyncRunnerOptions,
  totals: SyncTotals,
): Promise<{ replaced: boolean }> {
  const clock = options.clock ?? systemClock;
  const round = new AbortController();
  const stop = () => round.abort();
  // A signal aborted before the round began (while positions loaded, say) fires no event any more: stop at once.
  if (options.signal?.aborted) round.abort();
  else options.signal?.addEventListener('abort', stop, { once: true });
  const slots = new Slots(options.concurrency ?? defaults.concurrency);
  const read = { ...readSettingsOf(ctx, options.maxRequestUnitsPerSecond), maxItemCount: options.batchSize ?? defaults.batchSize };
  let replaced = false;

  const follow = async (range: FollowedRange) => {
    const bounds = parseRangeKey(range.key);
    if (!bounds) throw new Error(`change-feed position ${range.key} does not name a feed range`);
    let from: ChangeFeedStart = range.start;
    let saved = range.saved;
    let reader = new ChangeFeedReader(ctx.cosmos, bounds, from, { ...read, mode: options.mode });
    let failures = 0;
    while (!round.signal.aborted) {
      let caughtUp = false;
      try {
        caughtUp = await slots.run(async () => {
          const page = await reader.read();
          totals.requestUnits += page.requestCharge;
          totals.throttled += page.throttled;
          const outcome = page.items.length > 0 ? await applyPage(ctx, page.items, options.mode) : undefined;
          // Applied: a failure from here on resumes after this page.
          from = { from: 'continuation', continuation: page.continuation };
          if (outcome) count(totals, page.items.length, outcome);
          if (await advancePosition(ctx.prisma, range.key, saved, { continuation: page.continuation, mode: options.mode })) {
            saved = page.continuation;
          } else {
            // Someone else moved this range's position (another runner, an incremental run): continue from theirs.
            const current = await loadPosition(ctx.prisma, range.key);
            if (!current) {
              replaced = true;
              round.abort();
              return true;
            }
            saved = current.continuation;
            from = { from: 'continuation', continuation: current.continuation };
            reader = new ChangeFeedReader(ctx.cosmos, bounds, from, { ...read, mode: options.mode });
          }
          options.onPage?.({ range: range.key, changes: page.items.length, caughtUp: page.caughtUp, outcome, totals: { ...totals } });
          return page.caughtUp;
        });
        failures = 0;
      } catch (error) {
        // Our own errors are decisions (a batch of the wrong mode, a setting), not outages: retrying cannot help.
        if (error instanceof AppError) throw error;
        failures += 1;
        if (options.once && failures >= (options.attempts ?? defaults.attempts)) throw error;
        const delayMs = Math.round(Math.random() * Math.min(defaults.maxDelayMs, defaults.baseDelayMs * 2 ** (failures - 1)));
        options.onRetry?.({ range: range.key, attempt: failures, delayMs, error });
        await restUnlessAborted(clock, delayMs, round.signal);
        // Hold the place: read again from the last page applied.
        reader = new ChangeFeedReader(ctx.cosmos, bounds, from, { ...read, mode: options.mode });
        continue;
      }
      if (caughtUp) {
        if (options.once) return;
        await restUnlessAborted(clock, options.pollIntervalMs ?? defaults.pollIntervalMs, round.signal);
      }
    }
  };

  try {
    const results = await Promise.allSettled(ranges.map(follow));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
  return { replaced };
}

/** One page of changes through the Cosmos-triggered function's path. The runner holds its place on failure, so nothing is deferred. */
function applyPage(ctx: AppContext, items: unknown[], mode: ChangeFeedMode): Promise<SyncOutcome> {
  return syncChangeBatch(ctx, items, {
    mode,
    willRetry: true,
    enqueue: () => Promise.reject(new Error('the sync runner retries a failed page itself; it defers nothing')),
  });
}

function count(totals: SyncTotals, changes: number, outcome: SyncOutcome): void {
  totals.pages += 1;
  totals.changes += changes;
  if (outcome.kind !== 'applied') return;
  totals.written += outcome.written;
  totals.unchanged += outcome.unchanged + outcome.skipped;
  totals.quarantined += outcome.quarantined;
  totals.failed += outcome.failed;
  totals.deleted += outcome.deleted;
  totals.echoes += outcome.echoes;
  totals.diverged += outcome.diverged;
}

/** Waits `ms`, or less if `signal` aborts first. */
async function restUnlessAborted(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  await Promise.race([clock.sleep(ms), aborted]);
  if (onAbort) signal.removeEventListener('abort', onAbort);
}

/** At most `size` pieces of work at once; the others wait their turn, first come first served. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = Math.max(1, size);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}
