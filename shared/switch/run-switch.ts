import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { sleep } from '../core/clock.js';
import { SwitchRefusedError } from '../core/errors.js';
import { safeErrorMessage } from '../core/safe-error.js';
import {
  isSteady,
  type Phase,
  phaseAfter,
  phaseOfFlags,
  phaseTrustMs,
  type SteadyPhase,
  type SwitchTarget,
  switchingPhaseFor,
} from '../domain/phase.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import {
  effectivePhase,
  endFence,
  movePhase,
  readStoredPhase,
  releaseFence,
  renewFence,
  type StoredPhase,
} from '../postgres/phase-store.js';
import { drainChangeFeed, drainMirror } from './drain.js';
import { checkReadiness, type ReadinessCheckName, type ReadinessOptions, type ReadinessReport } from './readiness.js';
import { openSwitches, recordStep, startSwitchRecord, updateSwitchRecord } from './switch-audit.js';

/**
 * The switch of the primary database (`npm run migrate:switch`, its HTTP route and queue kind), in the manner of
 * ghostferry's cutover and DMS's CDC catch-up: catch up while writes go on; check readiness; fence (every write
 * waits, `PhaseReader.forWrite`); wait until every process has seen the fence and writes already under way have
 * landed; drain the side becoming primary up to the fence (the change feed into PostgreSQL; the mirror's backlog
 * into Cosmos, then the change feed so its echoes confirm the rows); flip; the writes go on on the other side.
 *
 * Every step is recorded first (`switch-audit.ts`). A switch killed at any step is finished or undone by running
 * it again: a fence still holding is taken over and the drain repeated (it is idempotent); a fence that lapsed
 * (`maxPauseMs` passed) was already given back by every process, and the switch starts over.
 */

export type SwitchStepName = 'catch-up' | 'checks' | 'fenced' | 'settled' | 'drained' | 'flipped' | 'released';

export interface SwitchStepEvent {
  step: SwitchStepName | `check:${ReadinessCheckName}`;
  switchId?: string;
  detail?: Record<string, unknown>;
}

export interface SwitchOptions extends Omit<ReadinessOptions, 'onCheck'> {
  target: SwitchTarget;
  /** Report the readiness checks only: nothing is written, no fence is taken. */
  checkOnly?: boolean;
  /** How long writes may be held: past it every process falls back to the phase before, and the switch gives up. Default 30 s. */
  maxPauseMs?: number;
  /** After the fence, how long writes already under way get to land, on top of the phase's trust period. Default 1 s. */
  settleMs?: number;
  /** Who asked (recorded). */
  requestedBy?: string;
  onStep?: (event: SwitchStepEvent) => void;
  signal?: AbortSignal;
}

export interface SwitchResult {
  /** `refused`: a readiness check failed (`readiness` says which); nothing changed. */
  outcome: 'checked' | 'refused' | 'completed' | 'already';
  switchId?: string;
  phaseBefore: Phase;
  phaseAfter: Phase;
  readiness?: ReadinessReport;
  /** Milliseconds writes were held. */
  pauseMs?: number;
  drained?: Record<string, unknown>;
  /** Earlier switches found killed and settled first. */
  settledEarlier: string[];
}

const defaults = { maxPauseMs: 30_000, settleMs: 1_000 };

export async function runSwitch(ctx: AppContext, options: SwitchOptions): Promise<SwitchResult> {
  const settledEarlier = options.checkOnly ? [] : await settleKilledSwitches(ctx, options.target);
  const stored = await readStoredPhase(ctx.prisma);
  const current = stored ? effectivePhase(stored) : phaseOfFlags(ctx.config.usePostgres, ctx.config.dualDatabaseMode);
  const target = phaseAfter(options.target);

  if (current === target) return { outcome: 'already', phaseBefore: current, phaseAfter: current, settledEarlier };
  if (!isSteady(current)) {
    // A live fence of a switch to the same place, still running elsewhere or killed: take it over.
    if (stored && current === switchingPhaseFor(options.target) && !options.checkOnly) {
      // Its time is renewed: what is left of the killed switch's may not be enough to drain.
      const renewed = await renewFence(ctx.prisma, { epoch: stored.epoch, fenceMs: options.maxPauseMs ?? defaults.maxPauseMs });
      if (!renewed) throw new SwitchRefusedError('the fence of the stopped switch lapsed or moved meanwhile; run the command again');
      return { ...(await fenceAndFlip(ctx, options, renewed, stored.switchId ?? undefined)), settledEarlier };
    }
    throw new SwitchRefusedError(`another switch holds the fence now (${current}); run the command again once it has finished`);
  }
  refuseImpossibleMove(current, options.target);

  if (options.checkOnly) {
    const readiness = await checkReadiness(ctx, options.target, readinessOptions(options));
    return { outcome: 'checked', phaseBefore: current, phaseAfter: current, readiness, settledEarlier };
  }

  const switchId = await startSwitchRecord(ctx.prisma, { target: options.target, fromPhase: current, requestedBy: options.requestedBy });
  try {
    if (options.target !== 'postgresql-only') {
      options.onStep?.({ step: 'catch-up', switchId });
      const caughtUp = await drainChangeFeed(ctx, options.signal);
      await recordStep(ctx.prisma, switchId, 'catch-up', { ...caughtUp });
    }
    const readiness = await checkReadiness(ctx, options.target, readinessOptions(options, switchId));
    await updateSwitchRecord(ctx.prisma, switchId, { checks: readiness as unknown as Prisma.InputJsonValue });
    await recordStep(ctx.prisma, switchId, 'checks', { ready: readiness.ready });
    options.onStep?.({ step: 'checks', switchId, detail: { ready: readiness.ready } });
    if (!readiness.ready) {
      const failed = readiness.checks.filter((check) => !check.passed).map((check) => check.name);
      await updateSwitchRecord(ctx.prisma, switchId, { state: 'refused', error: `checks failed: ${failed.join(', ')}`, finished: true });
      return { outcome: 'refused', switchId, phaseBefore: current, phaseAfter: current, readiness, settledEarlier };
    }
    if (options.target === 'postgresql-only') {
      // PostgreSQL stays primary: no write changes side, so nothing needs holding; the mirror just stops.
      const moved = await movePhase(ctx.prisma, { epoch: stored?.epoch, from: current, to: target, switchId });
      if (!moved) throw new SwitchRefusedError('another switch moved the phase meanwhile; run the command again');
      await recordStep(ctx.prisma, switchId, 'flipped', { phase: target });
      await updateSwitchRecord(ctx.prisma, switchId, { state: 'completed', flippedAt: new Date(), pauseMs: 0, finished: true });
      options.onStep?.({ step: 'flipped', switchId, detail: { phase: target } });
      return { outcome: 'completed', switchId, phaseBefore: current, phaseAfter: target, readiness, pauseMs: 0, settledEarlier };
    }
    const fenced = await movePhase(ctx.prisma, {
      epoch: stored?.epoch,
      from: current,
      to: switchingPhaseFor(options.target) as Phase,
      switchId,
      fenceMs: options.maxPauseMs ?? defaults.maxPauseMs,
    });
    if (!fenced) throw new SwitchRefusedError('another switch moved the phase meanwhile; run the command again');
    const result = await fenceAndFlip(ctx, options, fenced, switchId);
    return { ...result, readiness, phaseBefore: current, settledEarlier };
  } catch (error) {
    if (!(error instanceof SwitchRefusedError)) {
      await updateSwitchRecord(ctx.prisma, switchId, {
        state: 'failed',
        error: safeErrorMessage(error, secretsOf(ctx.config)),
        finished: true,
      }).catch(() => undefined);
    }
    throw error;
  }
}

/** The steps under the fence: settle, drain, flip (or give the fence back when the drain fails or overruns). */
async function fenceAndFlip(
  ctx: AppContext,
  options: SwitchOptions,
  fence: StoredPhase,
  switchId: string | undefined,
): Promise<Omit<SwitchResult, 'settledEarlier'>> {
  const id = switchId ?? (await startSwitchRecord(ctx.prisma, { target: options.target, fromPhase: fence.previousPhase }));
  const fencedAt = new Date();
  await updateSwitchRecord(ctx.prisma, id, { state: 'fenced', fencedAt });
  await recordStep(ctx.prisma, id, 'fenced', { phase: fence.phase, fenceUntil: fence.fenceUntil?.toISOString() ?? null });
  options.onStep?.({ step: 'fenced', switchId: id });
  const deadline = (fence.fenceUntil?.getTime() ?? Date.now() + defaults.maxPauseMs) - phaseTrustMs;
  const target = phaseAfter(options.target);
  try {
    // Every process trusts a reading for `phaseTrustMs`: after that all of them have seen the fence. Writes that
    // began before it get `settleMs` more to land.
    await sleep(phaseTrustMs + (options.settleMs ?? defaults.settleMs));
    await recordStep(ctx.prisma, id, 'settled');
    options.onStep?.({ step: 'settled', switchId: id });
    await updateSwitchRecord(ctx.prisma, id, { state: 'draining' });
    const drained =
      options.target === 'cosmos'
        ? { ...(await drainMirror(ctx, deadline, options.signal)) }
        : { ...(await drainChangeFeed(ctx, options.signal)) };
    if ('awaiting' in drained && (drained.awaiting > 0 || drained.failed > 0)) {
      throw new SwitchRefusedError(
        `Cosmos could not be brought up to PostgreSQL before the pause limit: ${drained.awaiting} row(s) still await Cosmos, ` +
          `${drained.failed} copy(ies) failed; writes went on in PostgreSQL (npm run migrate:pending-sync, then switch again)`,
      );
    }
    await recordStep(ctx.prisma, id, 'drained', drained);
    options.onStep?.({ step: 'drained', switchId: id, detail: drained });
    if (!(await endFence(ctx.prisma, { epoch: fence.epoch, to: target }))) {
      throw new SwitchRefusedError(
        `the drain outlasted the pause limit: every process went back to ${fence.previousPhase}, nothing changed (a longer --max-pause, or a quieter moment)`,
      );
    }
    const flippedAt = new Date();
    const pauseMs = flippedAt.getTime() - fencedAt.getTime();
    await recordStep(ctx.prisma, id, 'flipped', { phase: target, pauseMs });
    await updateSwitchRecord(ctx.prisma, id, { state: 'completed', flippedAt, pauseMs, finished: true });
    options.onStep?.({ step: 'flipped', switchId: id, detail: { phase: target, pauseMs } });
    return { outcome: 'completed', switchId: id, phaseBefore: fence.previousPhase, phaseAfter: target, pauseMs, drained };
  } catch (error) {
    const released = await releaseFence(ctx.prisma, fence.epoch).catch(() => false);
    const pauseMs = Date.now() - fencedAt.getTime();
    await recordStep(ctx.prisma, id, 'released', { released, pauseMs }).catch(() => undefined);
    await updateSwitchRecord(ctx.prisma, id, {
      state: 'released',
      pauseMs,
      error: safeErrorMessage(error, secretsOf(ctx.config)),
      finished: true,
    }).catch(() => undefined);
    options.onStep?.({ step: 'released', switchId: id, detail: { released } });
    throw error;
  }
}

/**
 * Switches killed before they finished, settled before a new one starts: a lapsed fence is formally given back; a
 * record of a switch whose fence is gone is closed as completed (its flip happened) or failed (nothing changed).
 * A live fence of a switch to another target is given back (undone), one to the same target is left to be taken over.
 */
async function settleKilledSwitches(ctx: AppContext, target: SwitchTarget): Promise<string[]> {
  const stored = await readStoredPhase(ctx.prisma);
  if (stored && !isSteady(stored.phase) && (stored.fenceLapsed || stored.phase !== switchingPhaseFor(target))) {
    await releaseFence(ctx.prisma, stored.epoch);
  }
  const now = await readStoredPhase(ctx.prisma);
  const settled: string[] = [];
  for (const open of await openSwitches(ctx.prisma)) {
    if (now && !isSteady(now.phase) && now.switchId === open.id) continue;
    const flipped = now?.phase === phaseAfter(open.target) && (open.state === 'fenced' || open.state === 'draining');
    await updateSwitchRecord(ctx.prisma, open.id, {
      state: flipped ? 'completed' : 'failed',
      error: flipped ? undefined : 'stopped before it finished; the phase was left as it was',
      finished: true,
    });
    await recordStep(ctx.prisma, open.id, flipped ? 'flipped' : 'released', { settledLater: true });
    settled.push(open.id);
  }
  return settled;
}

function refuseImpossibleMove(current: SteadyPhase, target: SwitchTarget): void {
  if (target === 'postgresql' && current !== 'cosmos' && current !== 'cosmos-primary') {
    throw new SwitchRefusedError(`PostgreSQL is already primary (${current})`);
  }
  if (target === 'cosmos' && current !== 'postgresql-primary') {
    throw new SwitchRefusedError(
      current === 'postgresql'
        ? 'Cosmos DB has not been kept current since the mirror was turned off (postgresql): switching back would lose every write since; migrate again instead'
        : `Cosmos DB is already primary (${current})`,
    );
  }
  if (target === 'postgresql-only' && current !== 'postgresql-primary') {
    throw new SwitchRefusedError(`switch to PostgreSQL first (now ${current}); postgresql-only ends the mirror that keeps a way back`);
  }
}

function readinessOptions(options: SwitchOptions, switchId?: string): ReadinessOptions {
  return {
    ...(options.maxLagSeconds === undefined ? {} : { maxLagSeconds: options.maxLagSeconds }),
    ...(options.maxReconcileAgeHours === undefined ? {} : { maxReconcileAgeHours: options.maxReconcileAgeHours }),
    onCheck: (name) => options.onStep?.({ step: `check:${name}`, ...(switchId ? { switchId } : {}) }),
  };
}
