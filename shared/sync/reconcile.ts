import { randomUUID } from 'node:crypto';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { InterruptedError, InvalidInputError, throwIfInterrupted } from '../core/errors.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { cosmosPointReader } from '../cosmos/point-reads.js';
import { documentKey, findPresent, readCurrent } from '../cosmos/present-documents.js';
import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import { assertMayMigrate, refuseUnlessCosmosIsPrimary } from '../migration/migration-mode.js';
import { readSettingsOf } from '../migration/read-budget.js';
import {
  commitPassPage,
  findPassPosition,
  finishPass,
  noCounts,
  PassMovedError,
  type PassPage,
  type PassTransaction,
  type ReconcileCounts,
  startPass,
} from '../migration/reconcile-passes.js';
import {
  countReconcileRows,
  type ReconcileRow,
  type RowPosition,
  removeReconciledRows,
  rowsAfter,
  walkStart,
} from '../postgres/reconcile-rows.js';
import { type QuarantineSweep, sweepQuarantine } from '../quarantine/sweep-quarantine.js';
import { competitorsFor } from './apply-deletes.js';
import { settleAfterDeletes } from './settle-after-deletes.js';

/**
 * Reconciliation: deletes for LatestVersion mode, whose change feed never shows one. A pass walks every
 * PostgreSQL document row in keyset pages (`chunkSize` rows, id order across the tables), asks Cosmos which of
 * the page's documents it still has (ids and partition keys only, one query per page), and for each one it
 * lacks (a candidate):
 * 1. a point read right before the removal confirms it is still absent; a document found again (created again
 *    meanwhile) is kept;
 * 2. with `apply`, the row is removed only if it still holds the version the pass read (compare-and-delete on
 *    `cosmosTs`, `cosmosLsn`, `cosmosEtag`: a write since then is kept), copied first to `reconciled_deletes` and
 *    remembered as a tombstone, in one transaction; a document quarantined as a competitor for a removed row
 *    (`conflict`, `displaced`) is then read again from Cosmos and applied, as after a delete the sync applies.
 * A dry run (the default) does step 1 and counts what step 2 would remove; it writes only its pass record.
 * Each page commits, with its removals, to the pass record: its counts and the walk's cursor, compare-and-set,
 * so a pass can stop after a few pages (`maxPages`, one queue message's share) and be continued from its cursor
 * by another invocation, and a page done twice (a duplicate delivery) is removed and counted once.
 * Memory stays flat: one page of rows and one page of Cosmos's answer at a time, never a whole id set.
 * Reads run under the shared request-unit budget (MIGRATION_MAX_RU_PER_SECOND), as the full load's do.
 */

export interface ReconcileOptions {
  /** Remove the confirmed rows (needs MIGRATION_MODE=true, and Cosmos primary). Default: a dry run. */
  apply?: boolean;
  /**
   * The pass's id; default a new UUID. A pass recorded under it already is continued from its cursor (a queue
   * chain's next step, a redelivered message, `--resume`); one that completed is not run again.
   */
  passId?: string;
  /** PostgreSQL rows per page, and documents per Cosmos id query. Default 1000. */
  chunkSize?: number;
  /** This pass's share of reads; default MIGRATION_MAX_RU_PER_SECOND. */
  maxRequestUnitsPerSecond?: number;
  /** Stop after this many pages, with the pass still running (`done: false`) where they left it. Default: no limit. */
  maxPages?: number;
  /**
   * The queue chain's step this invocation does: its pages commit only while the pass record is still at this
   * step (else `PassMovedError`). Default: the step the record is at.
   */
  step?: number;
  /** Stops the pass after the page in hand (recorded as interrupted, then `InterruptedError`). */
  signal?: AbortSignal;
  /** After every page: the pass's counts so far, and how many rows there were when this invocation started. */
  onProgress?: (event: { passId: string; counts: ReconcileCounts; total: number }) => void;
  /**
   * Called with each page's candidates after the id query and before their point reads: the window in which a
   * document may be created again. Tests act in it; it is no extension point for the app.
   */
  beforeConfirm?: (candidates: readonly ReconcileRow[]) => Promise<void>;
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
  /** The whole pass is done (and recorded completed); false when `maxPages` stopped it first. */
  done: boolean;
  /** Where the walk stands: after this row (null: no page committed yet). */
  cursor: RowPosition | null;
  /** Pages this invocation committed. */
  pages: number;
  /** The first rows confirmed gone in this invocation (at most {@link sampleSize}): removed with `apply`, else what would be. */
  sample: ReconcileSample[];
  /** Quarantined competitors of removed rows read again from Cosmos and applied (written, or quarantined again). */
  reconsidered: number;
  /**
   * The quarantine's sweep, run once the walk is done (`sweepQuarantine`): open entries whose documents are gone
   * from Cosmos, closed with `apply`; null when this invocation did not finish the walk.
   */
  quarantine: QuarantineSweep | null;
}

/** Rows a report names at most; the rest are counted (memory stays flat however many there are). */
export const sampleSize = 20;

/** Default rows per page: one id query's answer stays well under a few hundred KB. */
export const defaultReconcileChunkSize = 1000;

/**
 * Runs a reconcile pass (see the module comment), or continues the one recorded under `passId` from its cursor,
 * for at most `maxPages` pages. The counts it returns are the pass's, all invocations together. Throws
 * `InterruptedError` when stopped, after recording it, and `PassMovedError` (recording nothing) when another
 * invocation committed a page of this one first.
 */
export async function reconcile(ctx: AppContext, options: ReconcileOptions = {}): Promise<ReconcileOutcome> {
  const apply = options.apply === true;
  assertMayMigrate(ctx.config, !apply);
  if (apply) await refuseUnlessCosmosIsPrimary(ctx);
  const passId = options.passId ?? randomUUID();
  const chunkSize = options.chunkSize ?? defaultReconcileChunkSize;
  const reads = readSettingsOf(ctx, options.maxRequestUnitsPerSecond);
  const sample: ReconcileSample[] = [];
  const settled = { reconsidered: 0 };
  const recorded = await findPassPosition(ctx.prisma, passId);
  if (recorded && recorded.dryRun === apply) {
    const kind = recorded.dryRun ? 'a dry run' : 'a pass with apply';
    throw new InvalidInputError('passId', `reconcile pass ${passId} is ${kind}: it can only be continued as one`);
  }
  const start = await startPass(ctx.prisma, passId, !apply);
  const step = options.step ?? start.step;
  let position = start.cursor;
  let counts = start.counts;
  let pages = 0;
  let quarantine: QuarantineSweep | null = null;
  const outcome = (done: boolean): ReconcileOutcome => {
    return { passId, dryRun: !apply, ...counts, done, cursor: position, pages, sample, reconsidered: settled.reconsidered, quarantine };
  };
  if (start.state === 'completed') return outcome(true);
  try {
    const total = options.onProgress ? await countReconcileRows(ctx.prisma) : 0;
    for (;;) {
      if (options.maxPages !== undefined && pages >= options.maxPages) return outcome(false);
      throwIfInterrupted(options.signal);
      const rows = await rowsAfter(ctx.prisma, position ?? walkStart, chunkSize);
      const last = rows.at(-1);
      if (!last) break;
      const to = { id: last.id, table: last.table };
      const page = await reconcilePage(ctx, { passId, step, from: position, to }, rows, apply, reads, options);
      position = to;
      counts = page.counts;
      pages += 1;
      if (apply) settled.reconsidered += await reconsiderCompetitors(ctx, page.gone);
      sample.push(...page.gone.slice(0, sampleSize - sample.length).map(({ table, id, pubkey }) => ({ table, id, pubkey })));
      options.onProgress?.({ passId, counts: { ...counts }, total });
      // A short page is the walk's last: rowsAfter returns fewer rows than asked only when no more follow.
      if (rows.length < chunkSize) break;
    }
    quarantine = await sweepQuarantine(ctx, { apply, closedBy: `reconcile ${passId}`, reads, signal: options.signal });
    await finishPass(ctx.prisma, passId, 'completed');
    return outcome(true);
  } catch (error) {
    // Another delivery of this step holds the pass: it, not this one, says how it goes on.
    if (error instanceof PassMovedError) throw error;
    const interrupted = error instanceof InterruptedError;
    await finishPass(ctx.prisma, passId, interrupted ? 'interrupted' : 'failed', safeErrorMessage(error, secretsOf(ctx.config))).catch(
      () => undefined,
    );
    throw error;
  }
}

/**
 * One page: the id query, the point reads of its candidates, then in one transaction the removal (with `apply`)
 * and the page's commit to the pass record (compare-and-set on its cursor: see `commitPassPage`). Returns the
 * rows confirmed gone (removed, with `apply`) and the pass's counts after the page.
 */
async function reconcilePage(
  ctx: AppContext,
  where: Omit<PassPage, 'counts'>,
  rows: readonly ReconcileRow[],
  apply: boolean,
  reads: ReturnType<typeof readSettingsOf>,
  options: ReconcileOptions,
): Promise<{ gone: ReconcileRow[]; counts: ReconcileCounts }> {
  const counts: ReconcileCounts = { ...noCounts, scanned: rows.length };
  const commit = (tx: PassTransaction) => commitPassPage(tx, { ...where, counts });
  const presence = await findPresent(ctx.cosmos, rows, reads);
  counts.requestUnits += presence.requestCharge;
  counts.throttled += presence.throttled;
  const candidates = rows.filter((row) => !presence.present.has(documentKey(row)));
  counts.candidates += candidates.length;
  if (candidates.length === 0) return { gone: [], counts: await ctx.prisma.$transaction(commit) };
  await options.beforeConfirm?.(candidates);
  const current = await readCurrent(ctx.cosmos, candidates, reads);
  counts.requestUnits += current.requestCharge;
  counts.throttled += current.throttled;
  const gone = current.states.flatMap((state) => (state.present ? [] : [state.entry]));
  counts.keptRecreated += candidates.length - gone.length;
  counts.confirmed += gone.length;
  if (!apply || gone.length === 0) return { gone, counts: await ctx.prisma.$transaction(commit) };
  let totals: ReconcileCounts | undefined;
  const removal = await removeReconciledRows(ctx.prisma, where.passId, gone, async (tx, removed) => {
    counts.removed = removed.removed.length;
    counts.keptChanged = removed.changed;
    totals = await commit(tx);
  });
  if (!totals) throw new Error('the removal did not commit its page');
  return { gone: removal.removed, counts: totals };
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
