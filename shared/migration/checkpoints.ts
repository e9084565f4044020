import type { SourcePage } from '../cosmos/document-source.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import type { ApplyResult } from '../write-path/apply-documents.js';
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
  return new Map(rows.map((row) => [row.documentType as RunPart, toCheckpoint(row)]));
}

type CheckpointRow = Pick<Checkpoint, 'continuation' | 'done'> & { processed: bigint; maxCosmosTs: bigint };

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return { continuation: row.continuation, done: row.done, processed: Number(row.processed), maxCosmosTs: Number(row.maxCosmosTs) };
}

/**
 * Where the part stands once `page` is committed, coming from `from`: after the page (the next page's
 * continuation, none once the part is done), with the page counted and its newest `_ts` taken in.
 */
export function checkpointAfter(from: Checkpoint, page: Pick<SourcePage, 'documents' | 'continuation' | 'done'>): Checkpoint {
  let maxCosmosTs = from.maxCosmosTs;
  for (const document of page.documents) {
    if (typeof document._ts === 'number' && document._ts > maxCosmosTs) maxCosmosTs = document._ts;
  }
  return {
    continuation: page.done ? null : (page.continuation ?? null),
    done: page.done,
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
  await tx.$executeRaw`INSERT INTO "migration_checkpoints" ("runId", "documentType") VALUES (${runId}, ${part}) ON CONFLICT DO NOTHING`;
  const [row] = await tx.$queryRaw<CheckpointRow[]>`
    SELECT "continuation", "done", "processed", "maxCosmosTs" FROM "migration_checkpoints"
    WHERE "runId" = ${runId} AND "documentType" = ${part} FOR UPDATE`;
  if (!row) throw new Error(`checkpoint row for run ${runId} part ${part} vanished`);
  return toCheckpoint(row);
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
