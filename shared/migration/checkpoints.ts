import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
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
export async function lockCheckpoint(tx: Prisma.TransactionClient, runId: string, part: RunPart): Promise<Checkpoint> {
  // Inserting first gives concurrent first pages a row to queue on: the second waits for the first to
  // commit, then finds the checkpoint moved.
  await tx.$executeRaw`INSERT INTO "migration_checkpoints" ("runId", "part") VALUES (${runId}, ${part}) ON CONFLICT DO NOTHING`;
  const [row] = await tx.$queryRaw<CheckpointRow[]>`
    SELECT "continuation", "done", "processed", "maxCosmosTs" FROM "migration_checkpoints"
    WHERE "runId" = ${runId} AND "part" = ${part} FOR UPDATE`;
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
  tx: Prisma.TransactionClient,
  runId: string,
  part: RunPart,
  checkpoint: Checkpoint,
  result: ApplyResult,
  page: { size: number } & ReadCost,
): Promise<void> {
  const values = {
    continuation: checkpoint.continuation,
    done: checkpoint.done,
    processed: BigInt(checkpoint.processed),
    maxCosmosTs: BigInt(checkpoint.maxCosmosTs),
    updatedAt: new Date(),
  };
  await tx.migrationCheckpoint.upsert({
    where: { runId_part: { runId, part } },
    create: { runId, part, ...values },
    update: values,
  });
  const now = new Date();
  await tx.migrationRun.update({
    where: { id: runId },
    data: {
      processed: { increment: page.size },
      written: { increment: result.written },
      unchanged: { increment: result.unchanged },
      quarantined: { increment: result.quarantined },
      failed: { increment: result.failed },
      skipped: { increment: result.skipped },
      requestUnits: { increment: page.requestCharge },
      throttled: { increment: page.throttled },
      updatedAt: now,
      heartbeatAt: now,
    },
  });
}
