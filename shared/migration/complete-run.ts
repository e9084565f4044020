import type { PrismaClient } from '../postgres/prisma-client.js';
import { loadCheckpoints } from './checkpoints.js';
import { findRun, finishRun, type RunRecord } from './runs.js';
import { advanceWatermarks } from './watermarks.js';

/**
 * Marks a run whose parts are all done completed. A whole-container run that did not skip existing
 * rows has by then read every document of its parts written before it started, so it also moves
 * those parts' incremental watermarks to its start (see watermarks.ts).
 */
export async function completeRun(prisma: PrismaClient, run: Pick<RunRecord, 'id' | 'scope' | 'startedAt'>): Promise<void> {
  if (run.scope.pubkey === undefined && !run.scope.skipExisting) {
    await advanceWatermarks(prisma, run.scope.parts, Math.floor(run.startedAt.getTime() / 1000));
  }
  await finishRun(prisma, run.id, 'completed');
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
