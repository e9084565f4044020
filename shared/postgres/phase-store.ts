import { type Phase, phaseSchema, type SteadyPhase, steadyPhaseSchema } from '../domain/phase.js';
import type { PrismaClient } from './prisma-client.js';

/**
 * The primary database's phase as PostgreSQL holds it (`switch_state`, one row): every process reads it, and
 * only `migrate:switch` moves it, each move a compare-and-set on `epoch`. Times are the database's own clock,
 * so a fence's end means the same instant to every reader whatever their clocks say.
 */

const row = 'primary';

export interface StoredPhase {
  /** As stored; while a fence holds, a switching phase. */
  phase: Phase;
  /** The phase before the current switch (a lapsed fence falls back to it). */
  previousPhase: SteadyPhase;
  epoch: number;
  switchId: string | null;
  /** Until when a switching phase holds writes (database time); null in a steady phase. */
  fenceUntil: Date | null;
  /** A switching phase whose fence has run out: every process acts on `previousPhase`. */
  fenceLapsed: boolean;
}

interface PhaseRow {
  phase: string;
  previousPhase: string;
  epoch: number;
  switchId: string | null;
  fenceUntil: Date | null;
  fenceLapsed: boolean;
}

function storedPhaseOf(found: PhaseRow): StoredPhase {
  return {
    phase: phaseSchema.parse(found.phase),
    previousPhase: steadyPhaseSchema.parse(found.previousPhase),
    epoch: found.epoch,
    switchId: found.switchId,
    fenceUntil: found.fenceUntil,
    fenceLapsed: found.fenceLapsed,
  };
}

/** The stored phase, or undefined before the first switch (the settings decide then). */
export async function readStoredPhase(prisma: PrismaClient): Promise<StoredPhase | undefined> {
  const [found] = await prisma.$queryRaw<PhaseRow[]>`
    SELECT "phase", "previousPhase", "epoch", "switchId", "fenceUntil",
      ("fenceUntil" IS NOT NULL AND now() >= "fenceUntil") AS "fenceLapsed"
    FROM "switch_state" WHERE "name" = ${row}`;
  return found ? storedPhaseOf(found) : undefined;
}

/** What a phase read says every process acts on now: a lapsed fence gives the previous phase back. */
export function effectivePhase(stored: StoredPhase): Phase {
  return stored.fenceLapsed ? stored.previousPhase : stored.phase;
}

/**
 * Moves the phase from `from` (at `epoch`; undefined: no row yet) to `to`, holding a fence for `fenceMs` when
 * `to` is a switching phase. Returns the new state, or undefined when another process moved it first.
 */
export async function movePhase(
  prisma: PrismaClient,
  move: { epoch: number | undefined; from: SteadyPhase; to: Phase; switchId: string; fenceMs?: number },
): Promise<StoredPhase | undefined> {
  const fenceMs = move.fenceMs ?? null;
  const found =
    move.epoch === undefined
      ? await prisma.$queryRaw<PhaseRow[]>`
          INSERT INTO "switch_state" ("name", "phase", "previousPhase", "epoch", "switchId", "fenceUntil", "updatedAt")
          VALUES (${row}, ${move.to}, ${move.from}, 1, ${move.switchId},
            CASE WHEN ${fenceMs}::int IS NULL THEN NULL ELSE now() + make_interval(secs => ${fenceMs}::int / 1000.0) END, now())
          ON CONFLICT ("name") DO NOTHING
          RETURNING "phase", "previousPhase", "epoch", "switchId", "fenceUntil", false AS "fenceLapsed"`
      : await prisma.$queryRaw<PhaseRow[]>`
          UPDATE "switch_state" SET "phase" = ${move.to}, "previousPhase" = ${move.from}, "epoch" = "epoch" + 1,
            "switchId" = ${move.switchId}, "updatedAt" = now(),
            "fenceUntil" = CASE WHEN ${fenceMs}::int IS NULL THEN NULL ELSE now() + make_interval(secs => ${fenceMs}::int / 1000.0) END
          WHERE "name" = ${row} AND "epoch" = ${move.epoch}
          RETURNING "phase", "previousPhase", "epoch", "switchId", "fenceUntil", false AS "fenceLapsed"`;
  return found[0] ? storedPhaseOf(found[0]) : undefined;
}

/**
 * Ends a fence by moving to `to`, only while the fence of `epoch` still holds (before `fenceUntil`, by the
 * database's clock): once it has lapsed, every process already acts on the previous phase again, and flipping
 * then would let writes land on both sides. Returns whether it moved.
 */
export async function endFence(prisma: PrismaClient, fence: { epoch: number; to: SteadyPhase }): Promise<boolean> {
  const changed = await prisma.$executeRaw`
    UPDATE "switch_state" SET "phase" = ${fence.to}, "epoch" = "epoch" + 1, "fenceUntil" = NULL, "updatedAt" = now()
    WHERE "name" = ${row} AND "epoch" = ${fence.epoch} AND "fenceUntil" IS NOT NULL AND now() < "fenceUntil"`;
  return changed === 1;
}

/**
 * Renews a fence that still holds for another `fenceMs` from now (a switch taking over the fence of one that was
 * killed). Returns the new state, or undefined when the fence lapsed or moved meanwhile.
 */
export async function renewFence(prisma: PrismaClient, fence: { epoch: number; fenceMs: number }): Promise<StoredPhase | undefined> {
  const found = await prisma.$queryRaw<PhaseRow[]>`
    UPDATE "switch_state" SET "epoch" = "epoch" + 1, "updatedAt" = now(),
      "fenceUntil" = now() + make_interval(secs => ${fence.fenceMs}::int / 1000.0)
    WHERE "name" = ${row} AND "epoch" = ${fence.epoch} AND "fenceUntil" IS NOT NULL AND now() < "fenceUntil"
    RETURNING "phase", "previousPhase", "epoch", "switchId", "fenceUntil", false AS "fenceLapsed"`;
  return found[0] ? storedPhaseOf(found[0]) : undefined;
}

/** Gives a fence back: the phase before the switch, at once (an abandoned or failed switch). */
export async function releaseFence(prisma: PrismaClient, epoch: number): Promise<boolean> {
  const changed = await prisma.$executeRaw`
    UPDATE "switch_state" SET "phase" = "previousPhase", "epoch" = "epoch" + 1, "fenceUntil" = NULL, "updatedAt" = now()
    WHERE "name" = ${row} AND "epoch" = ${epoch} AND "fenceUntil" IS NOT NULL`;
  return changed === 1;
}
