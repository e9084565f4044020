import { z } from 'zod';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import type { RowPosition } from '../postgres/reconcile-rows.js';

/** What a page commit runs in: the transaction that removed the page's rows. */
export type PassTransaction = Prisma.TransactionClient;

/** The recorded reconcile passes (`reconcile_passes`): one row per pass, its counts kept current as it goes. */

export type ReconcileState = 'running' | 'completed' | 'failed' | 'interrupted';

/** What a pass has found and done so far. */
export interface ReconcileCounts {
  /** PostgreSQL rows compared with Cosmos. */
  scanned: number;
  /** Rows whose document the id query did not find in Cosmos. */
  candidates: number;
  /** Candidates a point read, right before the removal, confirmed absent. */
  confirmed: number;
  /** Confirmed rows removed (each copied to `reconciled_deletes` first). Always 0 in a dry run. */
  removed: number;
  /** Candidates the point read found present: the document was created again during the pass. Kept. */
  keptRecreated: number;
  /** Confirmed rows whose version changed in PostgreSQL before the removal (a newer write). Kept. */
  keptChanged: number;
  /** Request units the pass's Cosmos reads were charged. */
  requestUnits: number;
  /** 429 answers those reads met. */
  throttled: number;
}

export const noCounts: ReconcileCounts = {
  scanned: 0,
  candidates: 0,
  confirmed: 0,
  removed: 0,
  keptRecreated: 0,
  keptChanged: 0,
  requestUnits: 0,
  throttled: 0,
};

/** A pass as stats show it. */
export interface ReconcilePassSummary extends ReconcileCounts {
  id: string;
  state: ReconcileState;
  dryRun: boolean;
  /** ISO 8601. */
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
}

type PassColumns = ReturnType<typeof columns>;

function countsOf(pass: PassColumns): ReconcileCounts {
  return {
    scanned: Number(pass.scanned),
    candidates: Number(pass.candidates),
    confirmed: Number(pass.confirmed),
    removed: Number(pass.removed),
    keptRecreated: Number(pass.keptRecreated),
    keptChanged: Number(pass.keptChanged),
    requestUnits: pass.requestUnits,
    throttled: Number(pass.throttled),
  };
}

function columns(counts: ReconcileCounts) {
  return {
    scanned: BigInt(counts.scanned),
    candidates: BigInt(counts.candidates),
    confirmed: BigInt(counts.confirmed),
    removed: BigInt(counts.removed),
    keptRecreated: BigInt(counts.keptRecreated),
    keptChanged: BigInt(counts.keptChanged),
    requestUnits: counts.requestUnits,
    throttled: BigInt(counts.throttled),
  };
}

/** Where a recorded pass stands: its walk position, the queue chain's step, and its counts so far. */
export interface PassPosition {
  state: ReconcileState;
  dryRun: boolean;
  /** After this row (the last committed page's last); null when no page has committed yet. */
  cursor: RowPosition | null;
  step: number;
  counts: ReconcileCounts;
}

/** A pass record that is not where a step says it starts: see `position`. Nothing was committed. */
export class PassMovedError extends Error {
  override readonly name = 'PassMovedError';
  constructor(
    readonly passId: string,
    readonly position: 'stale' | 'behind',
  ) {
    super(
      position === 'stale'
        ? `reconcile pass ${passId} has moved past this step (another delivery of it committed first)`
        : `reconcile pass ${passId} has not committed the step before this one yet`,
    );
  }
}

const cursorSchema = z.tuple([z.string(), z.string()]);

/** The `cursor` column's text for a position: JSON `[id, table]`, compared as text by the compare-and-set. */
function cursorText(position: RowPosition | null): string | null {
  return position === null ? null : JSON.stringify([position.id, position.table]);
}

function cursorOf(text: string | null): RowPosition | null {
  if (text === null) return null;
  const [id, table] = cursorSchema.parse(JSON.parse(text));
  return { id, table };
}

/**
 * Records a pass as running, or finds the recorded one under that id (a queue chain's next step, a redelivered
 * message, `--resume`) and marks it running again where it stands; a completed pass is left as it is. A record
 * with no committed page (no cursor, first step) starts with zero counts, whatever an earlier delivery left.
 * Returns where the pass stands.
 */
export async function startPass(prisma: PrismaClient, id: string, dryRun: boolean): Promise<PassPosition> {
  const now = new Date();
  await prisma.reconcilePass.createMany({
    data: [{ id, state: 'running', dryRun, ...columns(noCounts), startedAt: now, updatedAt: now }],
    skipDuplicates: true,
  });
  await prisma.reconcilePass.updateMany({
    where: { id, cursor: null, step: 0, state: { not: 'completed' } },
    data: { ...columns(noCounts) },
  });
  await prisma.reconcilePass.updateMany({
    where: { id, state: { not: 'completed' } },
    data: { state: 'running', error: null, finishedAt: null, updatedAt: now },
  });
  const position = await findPassPosition(prisma, id);
  if (!position) throw new Error(`reconcile pass ${id} vanished while it was being started`);
  return position;
}

/** Where a recorded pass stands, or null when there is no pass `id`. */
export async function findPassPosition(prisma: PrismaClient, id: string): Promise<PassPosition | null> {
  const pass = await prisma.reconcilePass.findUnique({ where: { id } });
  if (!pass) return null;
  return {
    state: pass.state as ReconcileState,
    dryRun: pass.dryRun,
    cursor: cursorOf(pass.cursor),
    step: pass.step,
    counts: countsOf(pass),
  };
}

/** A page to commit: where it started and ended, at which step, and what it found and did. */
export interface PassPage {
  passId: string;
  step: number;
  from: RowPosition | null;
  to: RowPosition;
  counts: ReconcileCounts;
}

/**
 * Commits a page in `tx` (the transaction that removed its rows, if any): the cursor moves from `from` to `to`
 * and the page's counts are added, compare-and-set, only if the pass still stands at `from` and `step` and is
 * not completed; otherwise `PassMovedError` (the caller's transaction rolls back, its removals with it), so a
 * page delivered twice is counted once and the cursor never moves back. The row lock the update takes makes a
 * concurrent commit of the same page wait, then find the cursor moved.
 */
export async function commitPassPage(tx: PassTransaction, page: PassPage): Promise<ReconcileCounts> {
  const added = columns(page.counts);
  const increments = Object.fromEntries(Object.entries(added).map(([name, value]) => [name, { increment: value }]));
  const { count } = await tx.reconcilePass.updateMany({
    where: { id: page.passId, step: page.step, cursor: cursorText(page.from), state: { not: 'completed' } },
    data: { ...increments, cursor: cursorText(page.to), state: 'running', updatedAt: new Date() },
  });
  if (count === 0) throw new PassMovedError(page.passId, 'stale');
  const pass = await tx.reconcilePass.findUniqueOrThrow({ where: { id: page.passId } });
  return countsOf(pass);
}

/**
 * A queue chain's step is over at `cursor`: the pass moves to `step + 1`, compare-and-set (still at `step` and
 * `cursor`). False when another delivery moved it first (its successor is then the one that counts).
 */
export async function advanceStep(prisma: PrismaClient, id: string, step: number, cursor: RowPosition | null): Promise<boolean> {
  const { count } = await prisma.reconcilePass.updateMany({
    where: { id, step, cursor: cursorText(cursor), state: { not: 'completed' } },
    data: { step: step + 1, updatedAt: new Date() },
  });
  return count === 1;
}

/**
 * Records how a pass ended (its counts are committed page by page). A pass completed already stays completed:
 * a late delivery that failed or was interrupted does not undo it.
 */
export async function finishPass(
  prisma: PrismaClient,
  id: string,
  state: Exclude<ReconcileState, 'running'>,
  error?: string,
): Promise<void> {
  const now = new Date();
  await prisma.reconcilePass.updateMany({
    where: { id, state: { not: 'completed' } },
    data: { state, error: error ?? null, updatedAt: now, finishedAt: now },
  });
}

/** The state of a pass that has been recorded, or null. */
export async function findPassState(prisma: PrismaClient, id: string): Promise<ReconcileState | null> {
  const pass = await prisma.reconcilePass.findUnique({ where: { id }, select: { state: true } });
  return (pass?.state as ReconcileState | undefined) ?? null;
}

/**
 * The id of the most recently started pass of this kind (dry run or not) that did not complete (interrupted,
 * failed, or cut off while running), or null when there is none.
 */
export async function lastUnfinishedPass(prisma: PrismaClient, dryRun: boolean): Promise<string | null> {
  const pass = await prisma.reconcilePass.findFirst({
    where: { dryRun, state: { not: 'completed' } },
    orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
    select: { id: true },
  });
  return pass?.id ?? null;
}

/** The most recently started pass, or null when none has run. */
export async function lastReconcilePass(prisma: PrismaClient): Promise<ReconcilePassSummary | null> {
  const pass = await prisma.reconcilePass.findFirst({ orderBy: [{ startedAt: 'desc' }, { id: 'desc' }] });
  if (!pass) return null;
  return {
    id: pass.id,
    state: pass.state as ReconcileState,
    dryRun: pass.dryRun,
    startedAt: pass.startedAt.toISOString(),
    finishedAt: pass.finishedAt?.toISOString() ?? null,
    ...countsOf(pass),
    requestUnits: Math.round(pass.requestUnits * 100) / 100,
    error: pass.error,
  };
}
