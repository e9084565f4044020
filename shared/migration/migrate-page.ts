import type { AppContext } from '../context/app-context.js';
import { readDocumentPage, type SourcePage } from '../cosmos/document-source.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { type ApplyResult, applyDocuments } from '../write-path/apply-documents.js';
import { type Checkpoint, checkpointAfter, lockCheckpoint, recordPage } from './checkpoints.js';
import type { RunPart } from './runs.js';

/**
 * One page of one part of a run. Every run goes page by page through {@link applyPage}: the page's
 * documents are written through `applyDocuments` (source `migration`) and, in the same transaction,
 * the part's checkpoint moves past the page and the run's counters take in its outcome.
 *
 * The engine's loop (`run-migration.ts`) reads a part to its end in one process and knows where it
 * stands. A queue message does ONE page ({@link migratePage}) and several instances may hold messages
 * for the same position (the queue delivers at least once), so there the checkpoint is advanced
 * compare-and-set: a page commits only if the part's checkpoint still stands where the message started.
 */

/** Whose page it is and how to write it. */
export interface PageTarget {
  runId: string;
  part: RunPart;
  /** Classify the page without writing anything (the checkpoint and counters included). */
  dryRun: boolean;
  skipExisting: boolean;
}

/**
 * Writes `page` and commits the part's checkpoint after it in the same transaction. `from` runs inside
 * that transaction, after the writes, and says where the part stood before the page (it may throw to
 * roll the page back). Nothing is recorded in a dry run, and `from` is not called.
 */
export function applyPage(
  prisma: PrismaClient,
  target: PageTarget,
  page: Pick<SourcePage, 'documents' | 'continuation' | 'done'>,
  from: (tx: Prisma.TransactionClient) => Promise<Checkpoint>,
): Promise<ApplyResult> {
  return applyDocuments(prisma, page.documents, {
    source: 'migration',
    dryRun: target.dryRun,
    skipExisting: target.skipExisting,
    beforeCommit: async (tx, applied) => {
      const checkpoint = checkpointAfter(await from(tx), page);
      await recordPage(tx, target.runId, target.part, checkpoint, applied, page.documents.length);
    },
  });
}

export interface PageStep extends PageTarget {
  part: Exclude<RunPart, 'all'>;
  /** Where the page starts: null for the first. */
  continuation: string | null;
  /** Where the step before this one in the chain started; undefined on the first page. */
  previous?: string | null;
  batchSize: number;
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
 * Reads the page of a whole document type (or `other`) that starts at `step.continuation` and applies
 * it ({@link applyPage}) if and only if the part's checkpoint still stands at `step.continuation`: the
 * checkpoint row is locked, so concurrent deliveries of one step serialise and the second finds it moved
 * (`CheckpointMovedError`). `beforeCommit` runs in the transaction right before the checkpoint is saved
 * (in a dry run, after the page is classified): the queue enqueues the next step there, so a committed
 * checkpoint always has a successor message.
 */
export async function migratePage(
  ctx: AppContext,
  step: PageStep,
  beforeCommit?: (next: { continuation: string | null; done: boolean }) => Promise<void>,
): Promise<PageStepResult> {
  const page = await readDocumentPage(
    ctx.cosmos,
    { type: step.part },
    { batchSize: step.batchSize, continuation: step.continuation ?? undefined },
  );
  // Without a token the chain could only start the part over, for ever: fail loudly instead.
  if (!page.done && !page.continuation) throw new Error(`Cosmos returned no continuation for part ${step.part} before its end`);
  const next = { continuation: page.done ? null : (page.continuation ?? null), done: page.done };

  const result = await applyPage(ctx.prisma, step, page, async (tx) => {
    const saved = await lockCheckpoint(tx, step.runId, step.part);
    const position = stepPosition(saved, step);
    if (position !== 'current') throw new CheckpointMovedError(position);
    await beforeCommit?.(next);
    return saved;
  });
  // A dry run has no transaction (nothing is written), so the hook runs once the page is classified.
  if (step.dryRun) await beforeCommit?.(next);
  return { documents: page.documents.length, next: next.continuation, done: page.done, result };
}
