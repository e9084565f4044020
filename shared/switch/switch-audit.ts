import { randomUUID } from 'node:crypto';
import type { Phase, SwitchTarget } from '../domain/phase.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';

/**
 * The audit trail of switches (`switches`, `switch_steps`): one record per switch with its checks and their
 * figures, the fence, the pause and the outcome, and every step as it happened. Written before each step is
 * taken, so a switch killed at any step leaves a record saying where it stood.
 */

export type SwitchState = 'checking' | 'refused' | 'fenced' | 'draining' | 'completed' | 'released' | 'failed';

export interface SwitchRecord {
  id: string;
  target: SwitchTarget;
  fromPhase: Phase;
  state: SwitchState;
  fencedAt: Date | null;
  flippedAt: Date | null;
  pauseMs: number | null;
  startedAt: Date;
  finishedAt: Date | null;
  error: string | null;
}

export async function startSwitchRecord(
  prisma: PrismaClient,
  switchRequest: { target: SwitchTarget; fromPhase: Phase; requestedBy?: string },
): Promise<string> {
  const id = randomUUID();
  await prisma.switch.create({
    data: {
      id,
      target: switchRequest.target,
      fromPhase: switchRequest.fromPhase,
      state: 'checking',
      requestedBy: switchRequest.requestedBy ?? null,
    },
  });
  return id;
}

/** Appends a step to the switch's trail (its order is the order of the calls). */
export async function recordStep(prisma: PrismaClient, switchId: string, step: string, detail?: Prisma.InputJsonValue): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const last = await tx.switchStep.aggregate({ where: { switchId }, _max: { seq: true } });
    await tx.switchStep.create({ data: { switchId, seq: (last._max.seq ?? 0) + 1, step, ...(detail === undefined ? {} : { detail }) } });
  });
}

export async function updateSwitchRecord(
  prisma: PrismaClient,
  switchId: string,
  data: {
    state?: SwitchState;
    checks?: Prisma.InputJsonValue;
    fencedAt?: Date;
    flippedAt?: Date;
    pauseMs?: number;
    error?: string;
    finished?: boolean;
  },
): Promise<void> {
  const { finished, ...fields } = data;
  await prisma.switch.update({
    where: { id: switchId },
    data: { ...fields, updatedAt: new Date(), ...(finished ? { finishedAt: new Date() } : {}) },
  });
}

export async function findSwitchRecord(prisma: PrismaClient, switchId: string): Promise<SwitchRecord | undefined> {
  const found = await prisma.switch.findUnique({ where: { id: switchId } });
  return found ? recordOf(found) : undefined;
}

/** The newest switches, newest first. */
export async function recentSwitches(prisma: PrismaClient, take = 5): Promise<SwitchRecord[]> {
  const found = await prisma.switch.findMany({ orderBy: { startedAt: 'desc' }, take });
  return found.map(recordOf);
}

/** Switch records still open (not completed, refused, released or failed): at most one is live; the others were killed. */
export async function openSwitches(prisma: PrismaClient): Promise<SwitchRecord[]> {
  const found = await prisma.switch.findMany({ where: { finishedAt: null }, orderBy: { startedAt: 'desc' } });
  return found.map(recordOf);
}

function recordOf(found: {
  id: string;
  target: string;
  fromPhase: string;
  state: string;
  fencedAt: Date | null;
  flippedAt: Date | null;
  pauseMs: number | null;
  startedAt: Date;
  finishedAt: Date | null;
  error: string | null;
}): SwitchRecord {
  return { ...found, target: found.target as SwitchTarget, fromPhase: found.fromPhase as Phase, state: found.state as SwitchState };
}
