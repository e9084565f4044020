import type { FeedOptions } from '@azure/cosmos';
import { sourceQuery } from '../cosmos/document-source.js';
import { applyDocuments, type ApplyResult } from '../migration/apply-documents.js';
import { loadCheckpoints, recordPage, type Checkpoint } from '../migration/checkpoints.js';
import { withRetries } from '../migration/retry.js';
import type { MigrationContext } from '../migration/run-migration.js';
import { finishRun, findRun, type RunPart } from '../migration/runs.js';
import { isThrottled, retryAfterMs } from '../migration/throttle.js';
import { advanceWatermarks } from '../migration/watermarks.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';

/**
 * One step of a queue-driven run: ONE page of one part, from a given continuation, with its checkpoint.
 * The engine's loop (`run-migration.ts`) reads a part to its end in one process; a queue message may
 * only do one page, and several instances may hold messages for the same position (the queue delivers
 * at least once), so the checkpoint is advanced compare-and-set: a page commits only if the part's
 * checkpoint still stands where the message started.
 *
 * These are the engine operations the queue needs and the engine does not export yet (see the report
 * to the lead): they are built only from its exported pieces (`sourceQuery`, `applyDocuments`,
 * `recordPage`, `loadCheckpoints`, `finishRun`, `advanceWatermarks`) and belong in `shared/migration/`.
 */

export interface PageStep {
  runId: string;
  part: Exclude<RunPart, 'all'>;
  /** Where the page starts: null for the first. */
  continuation: string | null;
  /** Where the step before this one in the chain started; undefined on the first page. */
  previous?: string | null;
  batchSize: number;
  dryRun: boolean;
  skipExisting: boolean;
}

export interface PageStepResult {
  /** Documents in the page. */
  documents: number;
  /** Where the next page starts; null when this was the last (`done`). */
  next: string | null;
  done: boolean;
  result: ApplyResult;
}

/** How a step relates to its part's checkpoint. */
export type StepPosition =
  /** The checkpoint stands where the step starts: do the page. */
  | 'current'
  /** The checkpoint stands where the previous step started: that step has not committed (yet, or ever). */
  | 'behind'
  /** The checkpoint is elsewhere (past this page, or the part is done): someone did this page already. */
  | 'stale';

/** Where `step` stands against the part's checkpoint (none saved yet = at the start). */
export function stepPosition(
  checkpoint: Pick<Checkpoint, 'continuation' | 'done'> | undefined,
  step: Pick<PageStep, 'continuation' | 'previous'>,
): StepPosition {
  if (checkpoint?.done) return 'stale';
  const at = checkpoint?.continuation ?? null;
  if (at === step.continuation) return 'current';
  if (step.previous !== undefined && at === step.previous) return 'behind';
  return 'stale';
}

/** Thrown (and the page rolled back) when the checkpoint is not where the step starts; see `position`. */
export class CheckpointMovedError extends Error {
  override readonly name = 'CheckpointMovedError';
  constructor(readonly position: Exclude<StepPosition, 'current'>) {
    super(
      position === 'stale'
        ? 'the checkpoint has moved past this page (another delivery of it committed first)'
        : 'the previous page of this part has not been committed',
    );
  }
}

/**
 * Reads the page that starts at `step.continuation`, writes it through `applyDocuments` (source
 * `migration`) and, in the same transaction, saves the part's checkpoint and adds to the run's
 * counters, if and only if the checkpoint still stands at `step.continuation` (the row is locked, so
 * concurrent deliveries of one step serialise and the second finds it moved). `beforeCommit` runs in
 * the transaction right before the checkpoint is saved (in a dry run, after the page is classified):
 * the queue enqueues the next step there, so a committed checkpoint always has a successor message.
 */
export async function migratePage(
  ctx: MigrationContext,
  step: PageStep,
  beforeCommit?: (next: { continuation: string | null; done: boolean }) => Promise<void>,
): Promise<PageStepResult> {
  const feedOptions: FeedOptions = { maxItemCount: step.batchSize, continuationToken: step.continuation ?? undefined };
  const page = await withRetries(
    () => ctx.cosmos.items.query<Record<string, unknown>>(sourceQuery({ type: step.part }), feedOptions).fetchNext(),
    { attempts: 20, isRetryable: isThrottled, minimumDelayOf: retryAfterMs, baseDelayMs: 500, maxDelayMs: 30_000 },
  );
  const documents = page.resources;
  const done = !page.hasMoreResults;
  // Without a token the chain could only start the part over, for ever: fail loudly instead.
  if (!done && !page.continuationToken) throw new Error(`Cosmos returned no continuation for part ${step.part} before its end`);
  const next = { continuation: done ? null : (page.continuationToken ?? null), done };

  const result = await applyDocuments(ctx.prisma, documents, {
    source: 'migration',
    dryRun: step.dryRun,
    skipExisting: step.skipExisting,
    beforeCommit: async (tx, applied) => {
      const saved = await lockCheckpoint(tx, step.runId, step.part);
      const position = stepPosition(saved, step);
      if (position !== 'current') throw new CheckpointMovedError(position);
      await beforeCommit?.(next);
      const checkpoint: Checkpoint = {
        continuation: next.continuation,
        done: next.done,
        processed: saved.processed + documents.length,
        maxCosmosTs: documents.reduce(
          (max, document) => (typeof document._ts === 'number' && document._ts > max ? document._ts : max),
          saved.maxCosmosTs,
        ),
      };
      await recordPage(tx, step.runId, step.part, checkpoint, applied, documents.length);
    },
  });
  // A dry run has no transaction (nothing is written), so the hook runs once the page is classified.
  if (step.dryRun) await beforeCommit?.(next);
  return { documents: documents.length, next: next.continuation, done, result };
}

/** The part's checkpoint, row-locked for the rest of the transaction; created (at the start) if missing. */
async function lockCheckpoint(tx: Prisma.TransactionClient, runId: string, part: string): Promise<Checkpoint> {
  // Inserting first gives concurrent first pages a row to queue on: the second waits for the first to
  // commit, then finds the checkpoint moved.
  await tx.$executeRaw`INSERT INTO "migration_checkpoints" ("runId", "documentType") VALUES (${runId}, ${part}) ON CONFLICT DO NOTHING`;
  const [row] = await tx.$queryRaw<Array<{ continuation: string | null; done: boolean; processed: bigint; maxCosmosTs: bigint }>>`
    SELECT "continuation", "done", "processed", "maxCosmosTs" FROM "migration_checkpoints"
    WHERE "runId" = ${runId} AND "documentType" = ${part} FOR UPDATE`;
  if (!row) throw new Error(`checkpoint row for run ${runId} part ${part} vanished`);
  return { continuation: row.continuation, done: row.done, processed: Number(row.processed), maxCosmosTs: Number(row.maxCosmosTs) };
}

/**
 * Marks the run completed once every part of it is done (and, for a whole-container run that did not
 * skip existing rows, advances the incremental watermarks to its start, as the engine's loop does).
 * Safe to call from several instances at once. Returns whether the run is now complete.
 */
export async function completeRunIfDone(ctx: MigrationContext, runId: string): Promise<boolean> {
  const [run, checkpoints] = await Promise.all([findRun(ctx.prisma, runId), loadCheckpoints(ctx.prisma, runId)]);
  if (!run) return false;
  if (run.state === 'completed') return true;
  if (!run.scope.parts.every((part) => checkpoints.get(part)?.done)) return false;
  if (run.scope.pubkey === undefined && !run.scope.skipExisting) {
    await advanceWatermarks(ctx.prisma, run.scope.parts, Math.floor(run.startedAt.getTime() / 1000));
  }
  await finishRun(ctx.prisma, runId, 'completed');
  return true;
}
