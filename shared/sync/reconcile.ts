import { randomUUID } from 'node:crypto';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { InterruptedError, ReconcileRefusedError, throwIfInterrupted } from '../core/errors.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { cosmosPointReader } from '../cosmos/point-reads.js';
import { documentKey, findPresent, readCurrent } from '../cosmos/present-documents.js';
import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import { assertMayMigrate } from '../migration/migration-mode.js';
import { readSettingsOf } from '../migration/read-budget.js';
import { finishPass, noCounts, type ReconcileCounts, recordPassProgress, startPass } from '../migration/reconcile-passes.js';
import { countReconcileRows, type ReconcileRow, removeReconciledRows, rowsAfter, walkStart } from '../postgres/reconcile-rows.js';
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
 * Memory stays flat: one page of rows and one page of Cosmos's answer at a time, never a whole id set.
 * Reads run under the shared request-unit budget (MIGRATION_MAX_RU_PER_SECOND), as the full load's do.
 */

export interface ReconcileOptions {
  /** Remove the confirmed rows (needs MIGRATION_MODE=true, and Cosmos primary). Default: a dry run. */
  apply?: boolean;
  /** The pass's id (a queue message carries one so a redelivery is recognised); default a new UUID. */
  passId?: string;
  /** PostgreSQL rows per page, and documents per Cosmos id query. Default 1000. */
  chunkSize?: number;
  /** This pass's share of reads; default MIGRATION_MAX_RU_PER_SECOND. */
  maxRequestUnitsPerSecond?: number;
  /** Stops the pass after the page in hand (recorded as interrupted, then `InterruptedError`). */
  signal?: AbortSignal;
  /** After every page: the counts so far, and how many rows there were when the pass started. */
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
  /** The first rows confirmed gone (at most {@link sampleSize}): removed with `apply`, else what would be. */
  sample: ReconcileSample[];
  /** Quarantined competitors of removed rows read again from Cosmos and applied (written, or quarantined again). */
  reconsidered: number;
}

/** Rows a report names at most; the rest are counted (memory stays flat however many there are). */
export const sampleSize = 20;

/** Default rows per page: one id query's answer stays well under a few hundred KB. */
export const defaultReconcileChunkSize = 1000;

/** Runs one reconcile pass (see the module comment). Throws `InterruptedError` when stopped, after recording it. */
export async function reconcile(ctx: AppContext, options: ReconcileOptions = {}): Promise<ReconcileOutcome> {
  const apply = options.apply === true;
  assertMayMigrate(ctx.config, !apply);
  if (apply && ctx.config.usePostgres) throw new ReconcileRefusedError();
  const passId = options.passId ?? randomUUID();
  const chunkSize = options.chunkSize ?? defaultReconcileChunkSize;
  const reads = readSettingsOf(ctx, options.maxRequestUnitsPerSecond);
  const counts: ReconcileCounts = { ...noCounts };
  const sample: ReconcileSample[] = [];
  const settled = { reconsidered: 0 };
  await startPass(ctx.prisma, passId, !apply);
  try {
    const total = await countReconcileRows(ctx.prisma);
    let position = walkStart;
    for (;;) {
      throwIfInterrupted(options.signal);
      const rows = await rowsAfter(ctx.prisma, position, chunkSize);
      const last = rows.at(-1);
      if (!last) break;
      position = { id: last.id, table: last.table };
      const gone = await reconcilePage(ctx, passId, rows, apply, reads, counts, options);
      if (apply) settled.reconsidered += await reconsiderCompetitors(ctx, gone);
      sample.push(...gone.slice(0, sampleSize - sample.length).map(({ table, id, pubkey }) => ({ table, id, pubkey })));
      await recordPassProgress(ctx.prisma, passId, counts);
      options.onProgress?.({ passId, counts: { ...counts }, total });
    }
    await finishPass(ctx.prisma, passId, 'completed', counts);
    return { passId, dryRun: !apply, ...counts, sample, reconsidered: settled.reconsidered };
  } catch (error) {
    const interrupted = error instanceof InterruptedError;
    await finishPass(
      ctx.prisma,
      passId,
      interrupted ? 'interrupted' : 'failed',
      counts,
      safeErrorMessage(error, secretsOf(ctx.config)),
    ).catch(() => undefined);
    throw error;
  }
}

/** One page: the id query, the point reads of its candidates, the removal. Returns the rows confirmed gone (removed, with `apply`). */
async function reconcilePage(
  ctx: AppContext,
  passId: string,
  rows: readonly ReconcileRow[],
  apply: boolean,
  reads: ReturnType<typeof readSettingsOf>,
  counts: ReconcileCounts,
  options: ReconcileOptions,
): Promise<ReconcileRow[]> {
  counts.scanned += rows.length;
  const presence = await findPresent(ctx.cosmos, rows, reads);
  counts.requestUnits += presence.requestCharge;
  counts.throttled += presence.throttled;
  const candidates = rows.filter((row) => !presence.present.has(documentKey(row)));
  counts.candidates += candidates.length;
  if (candidates.length === 0) return [];
  await options.beforeConfirm?.(candidates);
  const current = await readCurrent(ctx.cosmos, candidates, reads);
  counts.requestUnits += current.requestCharge;
  counts.throttled += current.throttled;
  const gone = current.states.flatMap((state) => (state.present ? [] : [state.entry]));
  counts.keptRecreated += candidates.length - gone.length;
  counts.confirmed += gone.length;
  if (!apply || gone.length === 0) return gone;
  const removal = await removeReconciledRows(ctx.prisma, passId, gone);
  counts.removed += removal.removed.length;
  counts.keptChanged += removal.changed;
  return removal.removed;
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
