import { createHash, randomUUID } from 'node:crypto';
import type { AppContext } from '../context/app-context.js';
import { InvalidMessageError } from '../core/errors.js';
import { partitionKeySchemeOf } from '../cosmos/partition-key-hash.js';
import { advanceRangeStep, findPassRange, type PassRange, RangeMovedError } from '../migration/pass-ranges.js';
import { readSettingsOf } from '../migration/read-budget.js';
import { findPassPosition, type ReconcileCounts } from '../migration/reconcile-passes.js';
import type { QuarantineSweep } from '../quarantine/sweep-quarantine.js';
import type { MigrationMessageInput, ReconcileMessage } from '../storage-queue/messages.js';
import type { SentMessage } from '../storage-queue/send-messages.js';
import {
  assertMayReconcile,
  completeReconcilePass,
  newTally,
  prepareReconcilePass,
  type ReconcileSample,
  reconcileRange,
} from '../sync/reconcile.js';

/** What a `reconcile` message did. */
export type ReconcileMessageOutcome =
  /** A pass started (or its start was delivered again): one chain per feed range not done yet was queued. */
  | { kind: 'reconcile-started'; passId: string; dryRun: boolean; ranges: string[] }
  /** A pass's start gave pubkeys their EPKs for as long as one message may, and queued itself to go on. */
  | { kind: 'reconcile-hashing'; passId: string; dryRun: boolean }
  /**
   * A step of one range's chain ran: what it did (`counts`, `sample`), `next` the step it queued (absent when the
   * range is done), and `passCompleted` when this step completed the pass.
   */
  | {
      kind: 'reconcile';
      passId: string;
      dryRun: boolean;
      range: string;
      step: number;
      counts: ReconcileCounts;
      sample: ReconcileSample[];
      next?: number;
      passCompleted: boolean;
      /** The pass's counts, all ranges together, when this step completed it. */
      totals?: ReconcileCounts;
      /** The quarantine's sweep, when this step completed the pass. */
      quarantine?: QuarantineSweep;
    }
  /** A message of a pass that has completed already: nothing to do. */
  | { kind: 'reconcile-done'; passId: string }
  /** Another delivery of this step did it (the range has moved past it): nothing to do. */
  | { kind: 'reconcile-duplicate'; passId: string; range: string; step: number; reason: string };

/**
 * Pages one message does in its range before it hands the range on to its successor. At the default 1,000 documents
 * or rows a page, that is 20,000: a minute or two at most even under a tight request-unit budget, well inside
 * host.json's 10-minute functionTimeout, so a step is never cut off by the host (a cut-off step is redone from the
 * range's position, only its own pages again). Larger steps would risk that limit; smaller ones add a queue round
 * trip per few pages.
 */
export const reconcilePagesPerStep = 20;

/** What a `reconcile` message needs besides the services: the queue, to send the next step and take one back. */
export interface ReconcileHandling {
  services: AppContext;
  enqueue(messages: readonly MigrationMessageInput[]): Promise<SentMessage[]>;
  withdraw(sent: SentMessage): Promise<void>;
  /** The queue message's id, the same on every delivery: a message without `passId` names its pass by it. */
  messageId?: string;
  /** How long a start message hashes pubkeys (default {@link hashingMsPerMessage}); tests shorten it. */
  hashingMs?: number;
}

/**
 * A `reconcile` message: without `range`, the pass's start (its ranges recorded, pubkeys hashed, then one chain per
 * range queued, as a `full` message fans out the full load; a start with more pubkeys to hash than one message has
 * time for queues itself again to go on); with `range`, one step of that range's chain: up to
 * {@link reconcilePagesPerStep} pages from where the range stands, then the next step's message, unless the range
 * is done (then, if every range is, the pass is completed). Idempotent under at-least-once delivery, as a `batch`
 * chain is:
 * - the range's record says which step is in progress: a message of an earlier step (its step was taken) or of a
 *   completed pass does nothing; one of a later step (its predecessor has not recorded its end yet) throws, so the
 *   queue delivers it again later;
 * - each page commits compare-and-set on the range's position, with its removals, so a page done twice (two
 *   deliveries at once) counts once, and a step cut short is continued from the range's position by its redelivery;
 * - the successor is queued before the step's end is recorded (compare-and-set too), so a recorded end always has
 *   a successor; if another delivery recorded it first, this one's successor is taken back.
 * `apply` needs MIGRATION_MODE=true (`MigrationModeDisabledError`) and Cosmos primary (`ReconcileRefusedError`).
 */
export async function reconcileFromMessage(handling: ReconcileHandling, message: ReconcileMessage): Promise<ReconcileMessageOutcome> {
  const { services } = handling;
  await assertMayReconcile(services, message.apply);
  const passId = message.passId ?? (handling.messageId === undefined ? randomUUID() : passIdOfMessage(handling.messageId));
  if (message.range === undefined) return startChains(handling, message, passId);
  return rangeStep(handling, message, passId, message.range);
}

/**
 * How long a start message gives pubkeys their EPKs before it hands the rest to its own successor: the first pass
 * over a large container hashes every pubkey once, which must not run into host.json's 10-minute functionTimeout.
 */
export const hashingMsPerMessage = 4 * 60 * 1000;

async function startChains(handling: ReconcileHandling, message: ReconcileMessage, passId: string): Promise<ReconcileMessageOutcome> {
  const prepared = await prepareReconcilePass(handling.services, passId, message.apply, {
    hashingStopsAfterMs: handling.hashingMs ?? hashingMsPerMessage,
  });
  if (!prepared) return { kind: 'reconcile-done', passId };
  if (!prepared.hashed) {
    await handling.enqueue([{ kind: 'reconcile', passId, apply: message.apply, batchSize: message.batchSize }]);
    return { kind: 'reconcile-hashing', passId, dryRun: !message.apply };
  }
  const pending = prepared.ranges.filter((range) => range.phase !== 'done');
  // A start delivered again queues each range's step in progress again: the delivery that finds it taken does nothing.
  await handling.enqueue(
    pending.map((range) => ({
      kind: 'reconcile' as const,
      passId,
      apply: message.apply,
      batchSize: message.batchSize,
      range: range.rangeKey,
      step: range.step,
    })),
  );
  if (pending.length === 0) {
    await completeReconcilePass(handling.services, passId, { apply: message.apply, reads: readSettingsOf(handling.services) });
  }
  return { kind: 'reconcile-started', passId, dryRun: !message.apply, ranges: pending.map((range) => range.rangeKey) };
}

async function rangeStep(
  handling: ReconcileHandling,
  message: ReconcileMessage,
  passId: string,
  rangeKey: string,
): Promise<ReconcileMessageOutcome> {
  const { services } = handling;
  const step = message.step ?? 0;
  const pass = await findPassPosition(services.prisma, passId);
  if (pass?.state === 'completed') return { kind: 'reconcile-done', passId };
  const range = pass ? await findPassRange(services.prisma, passId, rangeKey) : null;
  if (!pass || !range) throw new InvalidMessageError([`feed range ${rangeKey} of reconcile pass ${passId}, which is not recorded`]);
  if (pass.dryRun === message.apply)
    throw new InvalidMessageError([`reconcile pass ${passId} is ${pass.dryRun ? 'a dry run' : 'not a dry run'}`]);
  if (range.step > step || (range.step === step && range.phase === 'done')) {
    const passCompleted =
      (await completeReconcilePass(services, passId, { apply: message.apply, reads: readSettingsOf(services) })) !== undefined;
    const reason = range.step > step ? `the range is at step ${range.step}` : 'the range is done';
    return passCompleted ? { kind: 'reconcile-done', passId } : { kind: 'reconcile-duplicate', passId, range: rangeKey, step, reason };
  }
  if (range.step < step) throw new RangeMovedError(passId, rangeKey, 'behind');

  const tally = newTally();
  const work = {
    passId,
    apply: message.apply,
    scheme: await partitionKeySchemeOf(services.cosmos),
    reads: readSettingsOf(services),
    chunkSize: message.batchSize,
  };
  let after: PassRange;
  try {
    after = await reconcileRange(services, work, range, tally, { maxPages: reconcilePagesPerStep });
  } catch (error) {
    if (error instanceof RangeMovedError && error.position === 'stale') {
      return { kind: 'reconcile-duplicate', passId, range: rangeKey, step, reason: error.message };
    }
    throw error;
  }
  const done = {
    kind: 'reconcile' as const,
    passId,
    dryRun: !message.apply,
    range: rangeKey,
    step,
    counts: tally.counts,
    sample: tally.sample,
  };
  if (after.phase === 'done') {
    const quarantine = await completeReconcilePass(services, passId, { apply: message.apply, reads: work.reads });
    const totals = quarantine ? (await findPassPosition(services.prisma, passId))?.counts : undefined;
    return { ...done, passCompleted: quarantine !== undefined, ...(totals ? { totals } : {}), ...(quarantine ? { quarantine } : {}) };
  }
  const next = step + 1;
  const [sent] = await handling.enqueue([
    { kind: 'reconcile', passId, apply: message.apply, batchSize: message.batchSize, range: rangeKey, step: next },
  ]);
  if (!(await advanceRangeStep(services.prisma, after))) {
    // Best effort: a successor already received finds the range past its step, or the other delivery's successor does the step.
    if (sent) await handling.withdraw(sent).catch(() => undefined);
    return { kind: 'reconcile-duplicate', passId, range: rangeKey, step, reason: 'another delivery of this step recorded its end first' };
  }
  return { ...done, next, passCompleted: false };
}

/** The pass id of a `reconcile` message without one: a UUID made of the queue message's id, the same on every delivery. */
export function passIdOfMessage(messageId: string): string {
  const hex = createHash('sha256').update(`nostria-migrate reconcile message ${messageId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
