import type { PrismaClient } from '../postgres/prisma-client.js';
import { advancePosition, type ChangeFeedPosition, replacePositions } from './change-feed-positions.js';
import { type Checkpoint, loadCheckpoints } from './checkpoints.js';
import { findRun, finishRun, type RunRecord, readerOf } from './runs.js';

/**
 * Marks a run whose parts are all done completed. A change-feed run also moves PostgreSQL's change-feed
 * positions, in the same transaction: a full load that did not skip existing rows has applied every
 * document up to each range's final continuation, so those become the positions (replacing any older
 * set); an incremental run moves each position it started from to where it ended, unless someone (the
 * sync runner) moved it meanwhile.
 */
export async function completeRun(prisma: PrismaClient, run: Pick<RunRecord, 'id' | 'kind' | 'scope'>): Promise<void> {
  // Positions say PostgreSQL holds every change before them: not so after a run of some types, or one that skipped rows.
  const moves = readerOf(run.scope) === 'change-feed' && !run.scope.skipExisting && run.scope.types === undefined;
  if (!moves) {
    await finishRun(prisma, run.id, 'completed');
    return;
  }
  const checkpoints = await loadCheckpoints(prisma, run.id);
  const ended = run.scope.parts.map((part) => ({ part, end: finalContinuation(part, checkpoints.get(part), run.scope.start) }));
  await prisma.$transaction(async (tx) => {
    // Two instances finishing the run's last parts at once: the second waits here, then finds it completed.
    const [row] = await tx.$queryRaw<Array<{ state: string }>>`SELECT "state" FROM "migration_runs" WHERE "id" = ${run.id} FOR UPDATE`;
    if (row?.state === 'completed') return;
    if (run.kind === 'full') {
      const positions: ChangeFeedPosition[] = ended.map(({ part, end }) => ({ rangeKey: part, continuation: end, mode: 'LatestVersion' }));
      await replacePositions(tx, positions);
    } else {
      for (const { part, end } of ended) {
        await advancePosition(tx, part, run.scope.start?.[part] ?? null, { continuation: end, mode: 'LatestVersion' });
      }
    }
    await finishRun(tx, run.id, 'completed');
  });
}

/** Where a done change-feed part ended: its final continuation (the one its 304 answered with). */
function finalContinuation(part: string, checkpoint: Checkpoint | undefined, start: Record<string, string> | undefined): string {
  const end = checkpoint?.continuation ?? start?.[part];
  if (!checkpoint?.done || !end) throw new Error(`part ${part} has no final continuation: it is not done`);
  return end;
}

/**
 * {@link completeRun} once every part of the run is done, for runs whose parts finish in different
 * processes (the queue's page chains). Safe to call from several instances at once. Returns whether
 * the run is now complete.
 */
export async function completeRunIfDone(prisma: PrismaClient, runId: string): Promise<boolean> {
  const [run, checkpoints] = await Promise.all([findRun(prisma, runId), loadCheckpoints(prisma, runId)]);
  if (!run) return false;
  if (run.state === 'completed') return true;
  if (!run.scope.parts.every((part) => checkpoints.get(part)?.done)) return false;
  await completeRun(prisma, run);
  return true;
}
