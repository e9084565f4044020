import type { PrismaClient } from '../postgres/prisma-client.js';
import type { SqlClient } from '../postgres/sql-client.js';

/** The recorded reconcile passes (`reconcile_passes`): one row per pass, its counts kept current as it goes. */

export type ReconcileState = 'running' | 'completed' | 'failed' | 'interrupted';

/** What a pass has found and done so far. */
export interface ReconcileCounts {
  /** PostgreSQL rows compared with Cosmos. */
  scanned: number;
  /** Rows whose document their feed range's change feed did not hold. */
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
  /** Cosmos documents read (every range's change feed, from the beginning). */
  documents: number;
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
  documents: 0,
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
    documents: Number(pass.documents),
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
    documents: BigInt(counts.documents),
  };
}

/** Where a recorded pass stands: its state, its kind, and its counts so far. */
export interface PassPosition {
  state: ReconcileState;
  dryRun: boolean;
  counts: ReconcileCounts;
}

/**
 * Records a pass as running, or finds the recorded one under that id (a queue chain's step, a redelivered
 * message, `--resume`) and marks it running again where it stands; a completed pass is left as it is. Returns
 * where the pass stands.
 */
export async function startPass(prisma: PrismaClient, id: string, dryRun: boolean): Promise<PassPosition> {
  const now = new Date();
  await prisma.reconcilePass.createMany({
    data: [{ id, state: 'running', dryRun, ...columns(noCounts), startedAt: now, updatedAt: now }],
    skipDuplicates: true,
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
  return { state: pass.state as ReconcileState, dryRun: pass.dryRun, counts: countsOf(pass) };
}

const countColumns = [
  'scanned',
  'candidates',
  'confirmed',
  'removed',
  'keptRecreated',
  'keptChanged',
  'throttled',
  'documents',
] as const satisfies ReadonlyArray<keyof ReconcileCounts>;

/**
 * Adds a page's counts to the pass's, in `tx` (the transaction that commits the page, with its removals): a page
 * rolled back is not counted, and one committed is counted once. Returns the pass's counts after it.
 */
export async function addPassCounts(tx: SqlClient, passId: string, counts: ReconcileCounts): Promise<ReconcileCounts> {
  const rows = await tx.$queryRawUnsafe<PassColumns[]>(
    `UPDATE "reconcile_passes" SET ${countColumns.map((name, index) => `"${name}" = "${name}" + $${index + 2}::bigint`).join(', ')},
       "requestUnits" = "requestUnits" + $${countColumns.length + 2}::double precision, "updatedAt" = now()
     WHERE "id" = $1 RETURNING ${[...countColumns, 'requestUnits'].map((name) => `"${name}"`).join(', ')}`,
    passId,
    ...countColumns.map((name) => String(counts[name])),
    counts.requestUnits,
  );
  const [pass] = rows;
  if (!pass) throw new Error(`reconcile pass ${passId} is not recorded: its page cannot be counted`);
  return countsOf(pass);
}

/**
 * Records how a pass ended (its counts are committed page by page). A pass completed already stays completed:
 * a late delivery that failed or was interrupted does not undo it. True when this call recorded the end (of two
 * processes completing one pass at once, exactly one gets true).
 */
export async function finishPass(
  prisma: PrismaClient,
  id: string,
  state: Exclude<ReconcileState, 'running'>,
  error?: string,
): Promise<boolean> {
  const now = new Date();
  const { count } = await prisma.reconcilePass.updateMany({
    where: { id, state: { not: 'completed' } },
    data: { state, error: error ?? null, updatedAt: now, finishedAt: now },
  });
  return count === 1;
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
