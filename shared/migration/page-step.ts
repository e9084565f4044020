import type { AppContext } from '../context/app-context.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { type ApplyResult, applyDocuments } from '../write-path/apply-documents.js';
import { type Checkpoint, checkpointAfter, lockCheckpoint, recordPage } from './checkpoints.js';
import { type PartPage, type PartReadOptions, partReader } from './part-reader.js';
import type { RunPart, RunScope } from './runs.js';

/**
 * THE page step of the migration engine, which both the in-process run (`run-migration.ts`) and the
 * queue's chains (`queue/handle-migration-message.ts`) drive: a page of one part is written through
 * `applyDocuments` (source `migration`) and, in the same transaction, the part's checkpoint moves past
 * the page and the run's counters take in its outcome and its read cost. The checkpoint moves
 * compare-and-set: only if it still stands where the caller says the page starts. The in-process loop
 * knows where it stands; a queue message may be delivered twice, or after another delivery committed
 * it, and two processes may resume one run at once: whoever comes second finds the checkpoint moved and
 * commits nothing (`CheckpointMovedError`).
 */

/** Whose page it is and how to write it. */
export interface PageTarget {
  runId: string;
  part: RunPart;
  /** Classify the page without writing anything (the checkpoint and counters included). */
  dryRun: boolean;
  skipExisting: boolean;
}

/** Where the caller says the part stands. */
export interface StepFrom {
  /** Where the page starts: null for the part's first page. */
  continuation: string | null;
  /** Where the step before this one in a queue chain started; undefined on the first page, and in-process. */
  previous?: string | null;
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
export function stepPosition(checkpoint: Pick<Checkpoint, 'continuation' | 'done'> | undefined, step: StepFrom): StepPosition {
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

/** What a committed (or, in a dry run, classified) page did, and where its part stands after it. */
export interface CommittedPage {
  result: ApplyResult;
  /** The part's checkpoint after the page; in a dry run, where it would be coming from `from`. */
  checkpoint: Checkpoint;
}

/**
 * Writes `page` and commits the part's checkpoint after it in the same transaction, if and only if the
 * checkpoint still stands at `from` (the checkpoint row is locked, so concurrent writers of one part
 * serialise and the second finds it moved). `beforeCommit` runs in the transaction right before the
 * checkpoint is saved (in a dry run, once the page is classified): the queue enqueues the next step there,
 * so a committed checkpoint always has a successor message. A dry run writes and records nothing.
 */
export async function commitPage(
  prisma: PrismaClient,
  target: PageTarget,
  page: PartPage,
  from: StepFrom & { at?: Checkpoint },
  beforeCommit?: (next: PartPage['next']) => Promise<void>,
): Promise<CommittedPage> {
  let committed: Checkpoint | undefined;
  const result = await applyDocuments(prisma, page.documents, {
    source: 'migration',
    dryRun: target.dryRun,
    skipExisting: target.skipExisting,
    beforeCommit: async (tx, applied) => {
      const saved = await lockCheckpoint(tx, target.runId, target.part);
      const position = stepPosition(saved, from);
      if (position !== 'current') throw new CheckpointMovedError(position);
      await beforeCommit?.(page.next);
      committed = checkpointAfter(saved, page);
      await recordPage(tx, target.runId, target.part, committed, applied, {
        size: page.documents.length,
        requestCharge: page.requestCharge,
        throttled: page.throttled,
      });
    },
  });
  if (target.dryRun) {
    await beforeCommit?.(page.next);
    committed = checkpointAfter(from.at ?? { continuation: from.continuation, done: false, processed: 0, maxCosmosTs: 0 }, page);
  }
  if (!committed) throw new Error(`the page of run ${target.runId} part ${target.part} was not committed`);
  return { result, checkpoint: committed };
}

/** One page step of a chain: the page that starts at `continuation`, then its successor's position. */
export interface PageStep extends PageTarget, StepFrom {
  /** The run's scope: how its parts are read (`scope.start` for an incremental run's parts). */
  scope: RunScope;
  batchSize: number;
}

export interface PageStepResult {
  /** Documents in the page. */
  documents: number;
  /** Where the next page starts; for a query part, null once it is done. */
  next: string | null;
  done: boolean;
  result: ApplyResult;
  /** Request units the page's Cosmos reads cost, and the 429s they met (as the run's counters take them in). */
  requestCharge: number;
  throttled: number;
}

/**
 * Reads the page of `step.part` that starts at `step.continuation` with a reader of its own, and commits
 * it ({@link commitPage}) if and only if the part's checkpoint still stands there.
 */
export async function pageStep(
  ctx: AppContext,
  step: PageStep,
  read: Omit<PartReadOptions, 'batchSize'>,
  beforeCommit?: (next: PartPage['next']) => Promise<void>,
): Promise<PageStepResult> {
  const page = await partReader(ctx.cosmos, step.scope, step.part, step.continuation, { ...read, batchSize: step.batchSize }).read();
  // Without a token the chain could only start the part over, for ever: fail loudly instead.
  if (!page.next.done && page.next.continuation === null)
    throw new Error(`Cosmos returned no continuation for part ${step.part} before its end`);
  const { result } = await commitPage(ctx.prisma, step, page, step, beforeCommit);
  return {
    documents: page.documents.length,
    next: page.next.continuation,
    done: page.next.done,
    result,
    requestCharge: page.requestCharge,
    throttled: page.throttled,
  };
}
