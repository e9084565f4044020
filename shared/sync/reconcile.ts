import { randomUUID } from 'node:crypto';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { InterruptedError, InvalidInputError, throwIfInterrupted } from '../core/errors.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { listFeedRanges, rangeKey } from '../cosmos/feed-ranges.js';
import { type PartitionKeyScheme, partitionKeySchemeOf } from '../cosmos/partition-key-hash.js';
import { cosmosPointReader } from '../cosmos/point-reads.js';
import { readCurrent } from '../cosmos/present-documents.js';
import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import { assertMayMigrate, refuseUnlessCosmosIsPrimary } from '../migration/migration-mode.js';
import { fillPartitionKeyHashes } from '../migration/partition-key-hashes.js';
import {
  findPassRange,
  forgetPassReads,
  loadPassRanges,
  type PassRange,
  purgeStaleRanges,
  RangeMovedError,
  recordPassRanges,
} from '../migration/pass-ranges.js';
import { inLanes, type RangeHandlers, type ReadPage, stepRange } from '../migration/range-pass.js';
import { type ReadSettings, readSettingsOf } from '../migration/read-budget.js';
import { addPassCounts, findPassPosition, finishPass, noCounts, type ReconcileCounts, startPass } from '../migration/reconcile-passes.js';
import { inPgTransaction } from '../postgres/pg-transaction.js';
import { poolOf, timeoutsOf } from '../postgres/prisma-client.js';
import type { RangeRow } from '../postgres/range-rows.js';
import { countReconcileRows, type ReconcileRow, removeReconciledRows } from '../postgres/reconcile-rows.js';
import { type QuarantineSweep, sweepQuarantine } from '../quarantine/sweep-quarantine.js';
import { competitorsFor } from './apply-deletes.js';
import { settleAfterDeletes } from './settle-after-deletes.js';

/**
 * Reconciliation: deletes for LatestVersion mode, whose change feed never shows one. A pass works feed range by
 * feed range, as the full load does (`migration/range-pass.ts`): it reads the range's change feed from the
 * beginning, remembering every document Cosmos holds there, then walks the range's PostgreSQL rows; each row whose
 * document the feed did not hold is a candidate, and:
 * 1. a point read right before the removal confirms it is still absent; a document found again (created again
 *    meanwhile, or after its range's feed was read) is kept;
 * 2. with `apply`, the row is removed only if it still holds the version the pass read (compare-and-delete on
 *    `cosmosTs`, `cosmosLsn`, `cosmosEtag`: a write since then is kept), copied first to `reconciled_deletes` and
 *    remembered as a tombstone, in one transaction; a document quarantined as a competitor for a removed row
 *    (`conflict`, `displaced`) is then read again from Cosmos and applied, as after a delete the sync applies.
 * A dry run (the default) does step 1 and counts what step 2 would remove; it writes only its pass record and its
 * ranges' scratch (what their feeds held, deleted when the pass completes).
 * Every page commits, with its removals, to its range's record (compare-and-set) and adds its counts to the pass's,
 * so a pass can stop after any page and be continued from there, by the CLI's `--resume` or by the queue's chain of
 * the range, and a page done twice (a duplicate delivery) is removed and counted once. Memory stays flat: a page of
 * documents or of rows at a time. Reads run under the shared request-unit budget (MIGRATION_MAX_RU_PER_SECOND); a
 * pass costs about one read of the container's change feed, plus one point read per candidate.
 */

export interface ReconcileOptions {
  /** Remove the confirmed rows (needs MIGRATION_MODE=true, and Cosmos primary). Default: a dry run. */
  apply?: boolean;
  /**
   * The pass's id; default a new UUID. A pass recorded under it already is continued where its ranges stand
   * (`--resume`); one that completed is not run again.
   */
  passId?: string;
  /** Documents per change-feed page and PostgreSQL rows per page. Default 1000. */
  chunkSize?: number;
  /** This pass's share of reads; default MIGRATION_MAX_RU_PER_SECOND. */
  maxRequestUnitsPerSecond?: number;
  /** Feed ranges worked on at once. Default 4. */
  concurrency?: number;
  /** Stops every range after the page in hand (the pass is recorded as interrupted, then `InterruptedError`). */
  signal?: AbortSignal;
  /** After every page: the pass's counts so far, and how many PostgreSQL rows there were when this invocation started. */
  onProgress?: (event: { passId: string; counts: ReconcileCounts; total: number }) => void;
  /** When a range is done, with what this invocation did in it (the CLI's telemetry lines). */
  onRangeDone?: (event: RangeDone) => void;
  /**
   * Called with each page's candidates before their point reads: the window in which a document may be created
   * again. Tests act in it; it is no extension point for the app.
   */
  beforeConfirm?: (candidates: readonly ReconcileRow[]) => Promise<void>;
}

/** A range's work in one invocation (a CLI range, or a queue step), for telemetry. */
export interface RangeDone {
  passId: string;
  rangeKey: string;
  dryRun: boolean;
  /** What this invocation did in the range. */
  counts: ReconcileCounts;
}

/** A row the pass found gone from Cosmos, as a report names it. */
export interface ReconcileSample {
  table: string;
  id: string;
  pubkey: string;
}

export interface ReconcileOutcome extends ReconcileCounts {
  passId: string;
  dryRun: boolean;
  /** The whole pass is done (and recorded completed). */
  done: boolean;
  /** The first rows confirmed gone in this invocation (at most {@link sampleSize}): removed with `apply`, else what would be. */
  sample: ReconcileSample[];
  /** Quarantined competitors of removed rows read again from Cosmos and applied (written, or quarantined again). */
  reconsidered: number;
  /**
   * The quarantine's sweep, run once every range is done (`sweepQuarantine`): open entries whose documents are gone
   * from Cosmos, closed with `apply`; null when this invocation did not complete the pass.
   */
  quarantine: QuarantineSweep | null;
}

/** Rows a report names at most; the rest are counted (memory stays flat however many there are). */
export const sampleSize = 20;

/** Default documents and rows per page: one page's keys and rows stay well under a few hundred KB. */
export const defaultReconcileChunkSize = 1000;

const defaultConcurrency = 4;

/** What every range of a pass is worked with. */
export interface ReconcilePassWork {
  passId: string;
  apply: boolean;
  scheme: PartitionKeyScheme;
  reads: ReadSettings;
  chunkSize: number;
}

/** What one invocation did in a range: its counts, the first rows gone, the competitors let in. */
export interface RangeTally {
  counts: ReconcileCounts;
  sample: ReconcileSample[];
  reconsidered: number;
}

export function newTally(): RangeTally {
  return { counts: { ...noCounts }, sample: [], reconsidered: 0 };
}

function addCounts(total: ReconcileCounts, page: ReconcileCounts): void {
  for (const name of Object.keys(total) as Array<keyof ReconcileCounts>) total[name] += page[name];
}

/**
 * Refuses what a pass may not do: `apply` without MIGRATION_MODE, or while PostgreSQL is primary (by the phase: a
 * row Cosmos lacks may then be a write the mirror has not copied yet, and reconcile must never remove rows awaiting
 * Cosmos).
 */
export async function assertMayReconcile(ctx: Pick<AppContext, 'config' | 'prisma' | 'phases'>, apply: boolean): Promise<void> {
  assertMayMigrate(ctx.config, !apply);
  if (apply) await refuseUnlessCosmosIsPrimary(ctx);
}

/**
 * Starts the pass recorded under `passId` (or finds it) and makes its ranges ready: the container's feed ranges as
 * listed now, recorded once (a resumed pass keeps its own, a range split since is read through its children),
 * ranges stale for a day set back to read again, and every pubkey with rows given its EPK (`hashed: false` when
 * `hashingStopsAfterMs` stopped that first). Refuses to continue a dry run with apply, or the other way round.
 * Returns the pass's ranges, or null when the pass has completed.
 */
export async function prepareReconcilePass(
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>,
  passId: string,
  apply: boolean,
  options: { hashingStopsAfterMs?: number } = {},
): Promise<{ ranges: PassRange[]; scheme: PartitionKeyScheme; hashed: boolean } | null> {
  const recorded = await findPassPosition(ctx.prisma, passId);
  if (recorded && recorded.dryRun === apply) {
    const kind = recorded.dryRun ? 'a dry run' : 'a pass with apply';
    throw new InvalidInputError('passId', `reconcile pass ${passId} is ${kind}: it can only be continued as one`);
  }
  const start = await startPass(ctx.prisma, passId, !apply);
  if (start.state === 'completed') return null;
  await purgeStaleRanges(ctx.prisma);
  let ranges = await loadPassRanges(ctx.prisma, passId);
  if (ranges.length === 0) {
    ranges = await recordPassRanges(ctx.prisma, passId, 'reconcile', (await listFeedRanges(ctx.cosmos)).map(rangeKey));
  }
  const scheme = await partitionKeySchemeOf(ctx.cosmos);
  const fill = await fillPartitionKeyHashes(ctx.prisma, scheme, { stopAfterMs: options.hashingStopsAfterMs });
  return { ranges, scheme, hashed: fill.done };
}

/**
 * Works on `range` from where it stands: at most `maxPages` pages (a queue step's share), or until it is done or
 * the signal is aborted. Adds what it did to `tally`. Throws `RangeMovedError` when another process or delivery
 * committed a page of it first (nothing of this page is then committed).
 */
export async function reconcileRange(
  ctx: AppContext,
  work: ReconcilePassWork,
  range: PassRange,
  tally: RangeTally,
  options: Pick<ReconcileOptions, 'signal' | 'beforeConfirm'> & { maxPages?: number; onPage?: (counts: ReconcileCounts) => void } = {},
): Promise<PassRange> {
  const handlers = reconcileHandlers(ctx, work, tally, options);
  const step = await stepRange({ ctx, scheme: work.scheme, reads: work.reads, batchSize: work.chunkSize }, range, handlers, {
    maxPages: options.maxPages,
    signal: options.signal,
  });
  return step.range;
}

/** What a reconcile pass does with its ranges' pages. */
function reconcileHandlers(
  ctx: AppContext,
  work: ReconcilePassWork,
  tally: RangeTally,
  options: Pick<ReconcileOptions, 'beforeConfirm'> & { onPage?: (counts: ReconcileCounts) => void },
): RangeHandlers {
  const { prisma } = ctx;
  const counted = (page: ReconcileCounts, totals: ReconcileCounts) => {
    addCounts(tally.counts, page);
    options.onPage?.(totals);
  };
  const readCounts = (page: ReadPage): ReconcileCounts => ({
    ...noCounts,
    documents: page.documents,
    requestUnits: page.requestCharge,
    throttled: page.throttled,
  });
  let readTotals = noCounts;
  return {
    readCommitting: async (tx, page) => {
      readTotals = await addPassCounts(tx, work.passId, readCounts(page));
    },
    readCommitted: (page) => counted(readCounts(page), readTotals),
    rows: async (rows, commit) => {
      const counts: ReconcileCounts = { ...noCounts, scanned: rows.length };
      const inTransaction = async (tx: Parameters<typeof commit>[0]) => {
        const totals = await addPassCounts(tx, work.passId, counts);
        const range = await commit(tx);
        return { range, totals };
      };
      const candidates: RangeRow[] = rows.filter((row) => !row.seen);
      counts.candidates = candidates.length;
      let gone: RangeRow[] = [];
      if (candidates.length > 0) {
        await options.beforeConfirm?.(candidates);
        const current = await readCurrent(ctx.cosmos, candidates, work.reads);
        counts.requestUnits += current.requestCharge;
        counts.throttled += current.throttled;
        gone = current.states.flatMap((state) => (state.present ? [] : [state.entry]));
        counts.keptRecreated = candidates.length - gone.length;
        counts.confirmed = gone.length;
      }
      let done: { range: PassRange; totals: ReconcileCounts } | undefined;
      if (work.apply && gone.length > 0) {
        const removal = await removeReconciledRows(prisma, work.passId, gone, async (tx, removed) => {
          counts.removed = removed.removed.length;
          counts.keptChanged = removed.changed;
          done = await inTransaction(tx);
        });
        gone = removal.removed;
      } else {
        done = await inPgTransaction(poolOf(prisma), timeoutsOf(prisma).queryTimeoutMs, inTransaction);
      }
      if (!done) throw new Error('the page of a reconcile range was not committed');
      counted(counts, done.totals);
      tally.sample.push(...gone.slice(0, sampleSize - tally.sample.length).map(({ table, id, pubkey }) => ({ table, id, pubkey })));
      if (work.apply) tally.reconsidered += await reconsiderCompetitors(ctx, gone);
      return done.range;
    },
  };
}

/**
 * Everything a pass does once all its ranges are done, whichever process gets there first (the CLI, or the
 * queue's last range step): forgets what its ranges read and records it completed. True for the one call that
 * recorded the completion: what must run once per completed pass (a sweep of what the pass settled) belongs
 * after this returns true, in the callers' common path here.
 */
export async function completeReconcilePass(
  ctx: AppContext,
  passId: string,
  sweep: { apply: boolean; reads: ReadSettings; signal?: AbortSignal },
): Promise<QuarantineSweep | undefined> {
  const ranges = await loadPassRanges(ctx.prisma, passId);
  if (ranges.some((range) => range.phase !== 'done')) return undefined;
  // Every row is compared: the open quarantine entries are checked the same way (their documents gone from Cosmos are closed).
  const quarantine = await sweepQuarantine(ctx, {
    apply: sweep.apply,
    closedBy: `reconcile ${passId}`,
    reads: sweep.reads,
    signal: sweep.signal,
  });
  await forgetPassReads(ctx.prisma, passId);
  return (await finishPass(ctx.prisma, passId, 'completed')) ? quarantine : undefined;
}

/**
 * Runs a reconcile pass (see the module comment), or continues the one recorded under `passId` where its ranges
 * stand, up to `concurrency` ranges at once. The counts it returns are the pass's, all invocations together. Throws
 * `InterruptedError` when stopped, after recording it.
 */
export async function reconcile(ctx: AppContext, options: ReconcileOptions = {}): Promise<ReconcileOutcome> {
  const apply = options.apply === true;
  await assertMayReconcile(ctx, apply);
  const passId = options.passId ?? randomUUID();
  const chunkSize = options.chunkSize ?? defaultReconcileChunkSize;
  const tally = newTally();
  const outcome = async (done: boolean, quarantine: QuarantineSweep | null = null): Promise<ReconcileOutcome> => {
    const recorded = await findPassPosition(ctx.prisma, passId);
    const { sample, reconsidered } = tally;
    return { passId, dryRun: !apply, ...(recorded?.counts ?? noCounts), done, sample, reconsidered, quarantine };
  };
  const prepared = await prepareReconcilePass(ctx, passId, apply);
  if (!prepared) return outcome(true);
  try {
    const work: ReconcilePassWork = {
      passId,
      apply,
      scheme: prepared.scheme,
      reads: readSettingsOf(ctx, options.maxRequestUnitsPerSecond),
      chunkSize,
    };
    const total = options.onProgress ? await countReconcileRows(ctx.prisma) : 0;
    const onPage = (counts: ReconcileCounts) => options.onProgress?.({ passId, counts, total });
    const pending = prepared.ranges.filter((range) => range.phase !== 'done');
    await inLanes(
      pending,
      options.concurrency ?? defaultConcurrency,
      async (first, stop) => {
        const rangeTally = newTally();
        let range: PassRange | null = first;
        while (range && range.phase !== 'done' && !stop.aborted) {
          try {
            range = await reconcileRange(ctx, work, range, rangeTally, { signal: stop, beforeConfirm: options.beforeConfirm, onPage });
          } catch (error) {
            // Another process committed a page of this range (or this one's commit was answered too late to know):
            // carry on from where the range stands now; pages commit compare-and-set, so nothing is done twice.
            if (!(error instanceof RangeMovedError)) throw error;
            range = await findPassRange(ctx.prisma, passId, first.rangeKey);
          }
        }
        tally.sample.push(...rangeTally.sample.slice(0, sampleSize - tally.sample.length));
        tally.reconsidered += rangeTally.reconsidered;
        addCounts(tally.counts, rangeTally.counts);
        if (range?.phase === 'done') options.onRangeDone?.({ passId, rangeKey: first.rangeKey, dryRun: !apply, counts: rangeTally.counts });
      },
      options.signal,
    );
    throwIfInterrupted(options.signal);
    const quarantine = await completeReconcilePass(ctx, passId, { apply, reads: work.reads, signal: options.signal });
    return await outcome(true, quarantine ?? null);
  } catch (error) {
    const interrupted = error instanceof InterruptedError;
    await finishPass(ctx.prisma, passId, interrupted ? 'interrupted' : 'failed', safeErrorMessage(error, secretsOf(ctx.config))).catch(
      () => undefined,
    );
    throw error;
  }
}

const keyColumnOf = new Map(documentTypeNames.map((type) => [documentTypes[type].table, documentTypes[type].key]));

/**
 * Documents quarantined as competitors for the removed rows (`<table>:<key>`, as they name them) take those rows
 * now: each is read again from Cosmos and applied, or quarantined again with the reason that holds now.
 */
async function reconsiderCompetitors(ctx: AppContext, removed: readonly ReconcileRow[]): Promise<number> {
  if (removed.length === 0) return 0;
  const freed = removed.map((row) => `${row.table}:${keyColumnOf.get(row.table) === 'pubkey' ? row.pubkey : row.id}`);
  const reconsider = await competitorsFor(ctx.prisma, freed);
  if (reconsider.length === 0) return 0;
  const settlement = await settleAfterDeletes(ctx.prisma, cosmosPointReader(ctx.cosmos), { ties: [], reconsider }, 'sync');
  return settlement.reconsidered;
}
