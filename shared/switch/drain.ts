import { type ChangeFeedMode, changeFeedModeFrom } from '../config/change-feed-mode.js';
import type { AppContext } from '../context/app-context.js';
import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import { loadPositions } from '../migration/change-feed-positions.js';
import { mirrorTarget, retryPendingSync } from '../mirror/pending-sync.js';
import { runSync, type SyncRunSummary } from '../sync/sync-runner.js';

/**
 * What a switch does while its fence holds writes: bring the side that becomes primary up to everything the
 * other side acknowledged. Both are the everyday paths (the change-feed sync, the mirror's retries), run to the
 * end once nothing new can arrive.
 */

export interface ChangeFeedDrain {
  changes: number;
  written: number;
  echoes: number;
  diverged: number;
}

/**
 * Applies every change after PostgreSQL's positions in every feed range, up to the end of the feed (each range
 * answered 304), moving the positions on: with writes held, that end is the fence.
 */
export async function drainChangeFeed(ctx: AppContext, signal?: AbortSignal): Promise<ChangeFeedDrain> {
  const summary: SyncRunSummary = await runSync(ctx, { mode: await syncModeOf(ctx), once: true, batchSize: 500, signal });
  return { changes: summary.changes, written: summary.written, echoes: summary.echoes, diverged: summary.diverged };
}

export interface MirrorDrain {
  /** Mirror writes copied to Cosmos (pending entries and rows still awaiting Cosmos). */
  copied: number;
  /** Rounds taken. */
  rounds: number;
  /** Rows still awaiting Cosmos at the end: 0 unless the deadline came first. */
  awaiting: number;
  /** Entries that failed on the last round (Cosmos unreachable, say). */
  failed: number;
}

/**
 * Brings Cosmos up to PostgreSQL: every `pending_sync` entry copied now, whatever its next attempt, and every
 * row still awaiting Cosmos without an entry (a process that died between its PostgreSQL write and its mirror
 * write) given one; then the change feed drained, so each copy's echo confirms its row. Repeated until no row
 * awaits Cosmos, or `deadline` (ms since the epoch) passes.
 */
export async function drainMirror(ctx: AppContext, deadline: number, signal?: AbortSignal): Promise<MirrorDrain> {
  const drain: MirrorDrain = { copied: 0, rounds: 0, awaiting: await countAwaitingCosmos(ctx), failed: 0 };
  while (Date.now() < deadline && !signal?.aborted) {
    drain.rounds += 1;
    await enlistAwaitingRows(ctx);
    await ctx.prisma.pendingSync.updateMany({ where: { target: mirrorTarget }, data: { nextAttempt: new Date() } });
    drain.failed = 0;
    for (;;) {
      const outcomes = await retryPendingSync(ctx, { limit: 500 });
      drain.copied += outcomes.filter((outcome) => outcome.outcome !== 'failed').length;
      drain.failed += outcomes.filter((outcome) => outcome.outcome === 'failed').length;
      if (outcomes.length === 0 || outcomes.every((outcome) => outcome.outcome === 'failed')) break;
    }
    await drainChangeFeed(ctx, signal);
    drain.awaiting = await countAwaitingCosmos(ctx);
    if (drain.awaiting === 0 && drain.failed === 0) break;
  }
  return drain;
}

/**
 * The change-feed mode PostgreSQL's positions were read in (the sync runner's, the last full load's), which the
 * drain must continue in; the configured mode (COSMOSDB_CHANGE_FEED_MODE) when there are none yet.
 */
export async function syncModeOf(ctx: AppContext): Promise<ChangeFeedMode> {
  const [position] = await loadPositions(ctx.prisma);
  return position?.mode ?? changeFeedModeFrom();
}

/** Rows the service wrote in PostgreSQL that the change feed has not yet shown in Cosmos. */
export async function countAwaitingCosmos(ctx: AppContext): Promise<number> {
  // Table names come from the descriptors; the partial indexes on "awaitingCosmos" answer each count.
  const [row] = await ctx.prisma.$queryRawUnsafe<Array<{ count: bigint }>>(
    `SELECT (${documentTypeNames.map((type) => `(SELECT count(*) FROM "${documentTypes[type].table}" WHERE "awaitingCosmos" IS NOT NULL)`).join(' + ')})::bigint AS "count"`,
  );
  return Number(row?.count ?? 0);
}

/** Gives every row awaiting Cosmos a `pending_sync` entry, due now, unless it has one. */
async function enlistAwaitingRows(ctx: AppContext): Promise<void> {
  for (const type of documentTypeNames) {
    // Table names come from the descriptors; every value is a parameter.
    await ctx.prisma.$executeRawUnsafe(
      `INSERT INTO "pending_sync" ("target", "documentType", "pubkey", "documentId", "attempts", "lastError", "nextAttempt")
       SELECT $1, $2, t."pubkey", t."id", 0, 'awaiting Cosmos at a switch', now() FROM "${documentTypes[type].table}" t
       WHERE t."awaitingCosmos" IS NOT NULL
       ON CONFLICT DO NOTHING`,
      mirrorTarget,
      type,
    );
  }
}
