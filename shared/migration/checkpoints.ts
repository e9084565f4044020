import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import type { ApplyResult } from './apply-documents.js';
import type { RunPart } from './runs.js';

/**
 * Where a run stands in one part (a document type, `other` or `all`): the Cosmos continuation token
 * after the last page whose rows are committed. Saved in the same transaction as that page's rows
 * (`recordPage`), so after a crash a run resumes exactly after the last committed page, and its
 * counters agree with what was written.
 */
export interface Checkpoint {
  /** Resume token; null when the source gave none (the part then starts over, harmlessly: writes are idempotent). */
  continuation: string | null;
  done: boolean;
  processed: number;
  /** The largest `_ts` read so far in this part. */
  maxCosmosTs: number;
}

/** The run's checkpoints by part; a part with none has not committed a page yet. */
export async function loadCheckpoints(prisma: PrismaClient, runId: string): Promise<Map<RunPart, Checkpoint>> {
  const rows = await prisma.migrationCheckpoint.findMany({ where: { runId } });
  return new Map(
    rows.map((row) => [
      row.documentType as RunPart,
      { continuation: row.continuation, done: row.done, processed: Number(row.processed), maxCosmosTs: Number(row.maxCosmosTs) },
    ]),
  );
}

/** Saves the part's checkpoint and adds the page's outcome to the run's counters, inside the page's transaction. */
export async function recordPage(
  tx: Prisma.TransactionClient,
  runId: string,
  part: RunPart,
  checkpoint: Checkpoint,
  result: ApplyResult,
  pageSize: number,
): Promise<void> {
  const values = {
    continuation: checkpoint.continuation,
    done: checkpoint.done,
    processed: BigInt(checkpoint.processed),
    maxCosmosTs: BigInt(checkpoint.maxCosmosTs),
    updatedAt: new Date(),
  };
  await tx.migrationCheckpoint.upsert({
    where: { runId_documentType: { runId, documentType: part } },
    create: { runId, documentType: part, ...values },
    update: values,
  });
  await tx.migrationRun.update({
    where: { id: runId },
    data: {
      processed: { increment: pageSize },
      written: { increment: result.written },
      unchanged: { increment: result.unchanged },
      quarantined: { increment: result.quarantined },
      failed: { increment: result.failed },
      skipped: { increment: result.skipped },
      updatedAt: new Date(),
    },
  });
}
