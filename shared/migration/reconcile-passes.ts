import type { PrismaClient } from '../postgres/prisma-client.js';

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

/** Records a pass as running. A pass id used before (a redelivered queue message) starts that pass over. */
export async function startPass(prisma: PrismaClient, id: string, dryRun: boolean): Promise<void> {
  const fresh = {
    state: 'running',
    dryRun,
    ...columns(noCounts),
    error: null,
    startedAt: new Date(),
    updatedAt: new Date(),
    finishedAt: null,
  };
  await prisma.reconcilePass.upsert({ where: { id }, create: { id, ...fresh }, update: fresh });
}

/** Keeps a running pass's counts current. */
export async function recordPassProgress(prisma: PrismaClient, id: string, counts: ReconcileCounts): Promise<void> {
  await prisma.reconcilePass.update({ where: { id }, data: { ...columns(counts), updatedAt: new Date() } });
}

/** Records how a pass ended. */
export async function finishPass(
  prisma: PrismaClient,
  id: string,
  state: Exclude<ReconcileState, 'running'>,
  counts: ReconcileCounts,
  error?: string,
): Promise<void> {
  const now = new Date();
  await prisma.reconcilePass.update({
    where: { id },
    data: { state, ...columns(counts), error: error ?? null, updatedAt: now, finishedAt: now },
  });
}

/** The state of a pass that has been recorded, or null. */
export async function findPassState(prisma: PrismaClient, id: string): Promise<ReconcileState | null> {
  const pass = await prisma.reconcilePass.findUnique({ where: { id }, select: { state: true } });
  return (pass?.state as ReconcileState | undefined) ?? null;
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
    scanned: Number(pass.scanned),
    candidates: Number(pass.candidates),
    confirmed: Number(pass.confirmed),
    removed: Number(pass.removed),
    keptRecreated: Number(pass.keptRecreated),
    keptChanged: Number(pass.keptChanged),
    requestUnits: Math.round(pass.requestUnits * 100) / 100,
    throttled: Number(pass.throttled),
    error: pass.error,
  };
}
