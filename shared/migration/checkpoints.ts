import type { PrismaClient } from '../postgres/prisma-client.js';
import type { SqlClient } from '../postgres/sql-client.js';
import type { ApplyResult } from '../write-path/apply-documents.js';
import type { RunPart } from './runs.js';

/**
 * Where a run stands in one part: the Cosmos continuation token after the last page whose rows are
 * committed. Saved in the same transaction as that page's rows (`recordPage`), so after a crash a run
 * resumes exactly after the last committed page, and its counters agree with what was written.
 */
export interface Checkpoint {
  /**
   * Where the next page starts: null before the first page (the part's start). A query part's is null
   * again once done; a change-feed part keeps its final continuation, where reading the feed goes on from.
   */
  continuation: string | null;
  done: boolean;
  processed: number;
  /** The largest `_ts` read so far in this part. */
  maxCosmosTs: number;
}

/** Where a part stands before its first page. */
export const partStart: Checkpoint = { continuation: null, done: false, processed: 0, maxCosmosTs: 0 };

/** The run's checkpoints by part; a part with none has not committed a page yet. */
export async function loadCheckpoints(prisma: PrismaClient, runId: string): Promise<Map<RunPart, Checkpoint>> {
  const rows = await prisma.migrationCheckpoint.findMany({ where: { runId } });
  return new Map(rows.map((row) => [row.part, toCheckpoint(row)]));
}

type CheckpointRow = Pick<Checkpoint, 'continuation' | 'done'> & { processed: bigint; maxCosmosTs: bigint };

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return { continuation: row.continuation, done: row.done, processed: Number(row.processed), maxCosmosTs: Number(row.maxCosmosTs) };
}

/** What a page moves a checkpoint by: its documents, and where the part stands after it. */
export interface PageProgress {
  documents: readonly Record<string, unknown>[];
  next: { continuation: string | null; done: boolean };
}

/**
 * Where the part stands once `page` is committed, coming from `from`: after the page, with the page counted and its
 * newest `_ts` taken in.
 */
export function checkpointAfter(from: Checkpoint, page: PageProgress): Checkpoint {
  let maxCosmosTs = from.maxCosmosTs;
  for (const document of page.documents) {
    if (typeof document._ts === 'number' && document._ts > maxCosmosTs) maxCosmosTs = document._ts;
  }
  return {
    continuation: page.next.continuation,
    done: page.next.done,
    processed: from.processed + page.documents.length,
    maxCosmosTs,
  };
}

/**
 * The part's checkpoint, row-locked for the rest of the transaction; created (at the start) if missing.
 * Concurrent writers of one part's checkpoint serialise on it, and each sees what the one before committed.
 */
export async function lockCheckpoint(tx: SqlClient, runId: string, part: RunPart): Promise<Checkpoint> {
  // Inserting first gives concurrent first pages a row to queue on: the second waits for the first to
  // commit, then finds the checkpoint moved.
  await tx.$executeRawUnsafe('INSERT INTO "migration_checkpoints" ("runId", "part") VALUES ($1, $2) ON CONFLICT DO NOTHING', runId, part);
  const [row] = await tx.$queryRawUnsafe<CheckpointRow[]>(
    `SELECT "continuation", "done", "processed", "maxCosmosTs" FROM "migration_checkpoints"
    WHERE "runId" = $1 AND "part" = $2 FOR UPDATE`,
    runId,
    part,
  );
  if (!row) throw new Error(`checkpoint row for run ${runId} part ${part} vanished`);
  return toCheckpoint(row);
}

/** What a page cost to read. */
export interface ReadCost {
  requestCharge: number;
  throttled: number;
}

/** Saves the part's checkpoint and adds the page's outcome and cost to the run's counters, inside the page's transaction. */
export async function recordPage(
  tx: SqlClient,
  runId: string,
  part: RunPart,
  checkpoint: Checkpoint,
  result: ApplyResult,
  page: { size: number } & ReadCost,
): Promise<void> {
  const now = new Date().toISOString();
  await tx.$executeRawUnsafe(
    `INSERT INTO "migration_checkpoints" ("runId", "part", "continuation", "done", "processed", "maxCosmosTs", "updatedAt")
    VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7::timestamptz)
    ON CONFLICT ("runId", "part") DO UPDATE SET "continuation" = EXCLUDED."continuation", "done" = EXCLUDED."done",
      "processed" = EXCLUDED."processed", "maxCosmosTs" = EXCLUDED."maxCosmosTs", "updatedAt" = EXCLUDED."updatedAt"`,
    runId,
    part,
    checkpoint.continuation,
    checkpoint.done,
    String(checkpoint.processed),
    String(checkpoint.maxCosmosTs),
    now,
  );
  const counters = [page.size, result.written, result.unchanged, result.quarantined, result.failed, result.skipped, page.throttled];
  const updated = await tx.$executeRawUnsafe(
    `UPDATE "migration_runs" SET "processed" = "processed" + $2::bigint, "written" = "written" + $3::bigint,
      "unchanged" = "unchanged" + $4::bigint, "quarantined" = "quarantined" + $5::bigint, "failed" = "failed" + $6::bigint,
      "skipped" = "skipped" + $7::bigint, "throttled" = "throttled" + $8::bigint,
      "requestUnits" = "requestUnits" + $9::double precision, "updatedAt" = $10::timestamptz, "heartbeatAt" = $10::timestamptz
    WHERE "id" = $1`,
    runId,
    ...counters.map(String),
    page.requestCharge,
    now,
  );
  // The run's row is where its counters live: a page of a run that is not there must not commit.
  if (updated !== 1) throw new Error(`migration run ${runId} is not recorded: its page cannot be counted`);
}
