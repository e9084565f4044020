import { createHash, randomUUID } from 'node:crypto';
import type { AppContext } from '../context/app-context.js';
import { InvalidMessageError } from '../core/errors.js';
import { advanceStep, findPassPosition, PassMovedError } from '../migration/reconcile-passes.js';
import type { MigrationMessageInput, ReconcileMessage } from '../storage-queue/messages.js';
import type { SentMessage } from '../storage-queue/send-messages.js';
import { type ReconcileOutcome, reconcile } from '../sync/reconcile.js';

/** What a `reconcile` message did. */
export type ReconcileMessageOutcome =
  /** A step ran: the pass's counts so far; `next` is the step it queued, absent when this step finished the pass. */
  | { kind: 'reconcile'; step: number; outcome: ReconcileOutcome; next?: number }
  /** A redelivered message whose pass had completed already: nothing to do. */
  | { kind: 'reconcile-done'; passId: string }
  /** Another delivery of this step did it (the pass has moved past it): nothing to do. */
  | { kind: 'reconcile-duplicate'; passId: string; step: number; reason: string };

/**
 * Pages one message does before it hands the pass on to its successor. At the default 1,000 rows a page that is
 * 20,000 rows: one id query per page plus point reads and removals only for rows Cosmos lacks, a minute or two
 * at most even under a tight request-unit budget, well inside host.json's 10-minute functionTimeout, so a step
 * is never cut off by the host (a cut-off step is redone from the pass's cursor, only its own pages again).
 * Larger steps would risk that limit; smaller ones add a queue round trip per few pages.
 */
export const reconcilePagesPerStep = 20;

/** What a `reconcile` message needs besides the services: the queue, to send the next step and take one back. */
export interface ReconcileHandling {
  services: AppContext;
  enqueue(messages: readonly MigrationMessageInput[]): Promise<SentMessage[]>;
  withdraw(sent: SentMessage): Promise<void>;
  /** The queue message's id, the same on every delivery: a message without `passId` names its pass by it. */
  messageId?: string;
}

/**
 * One step of a reconcile pass: up to {@link reconcilePagesPerStep} pages from where the pass record's cursor
 * stands, then the next step's message, unless the walk is done (then the pass is recorded completed). Idempotent
 * under at-least-once delivery, like a `batch` chain:
 * - the pass record says which step is in progress: a message of an earlier step (its step was taken) or of a
 *   completed pass does nothing; one of a later step (its predecessor has not recorded its end yet) throws, so
 *   the queue delivers it again later;
 * - each page commits compare-and-set on the cursor, with its removals, so a page done twice (two deliveries at
 *   once) counts once, and a step cut short is continued from the cursor by its redelivery;
 * - the successor is queued before the step's end is recorded (compare-and-set too), so a recorded end always
 *   has a successor; if another delivery recorded it first, this one's successor is taken back.
 * `apply` needs MIGRATION_MODE=true (`MigrationModeDisabledError`) and Cosmos primary (`ReconcileRefusedError`).
 */
export async function reconcileFromMessage(handling: ReconcileHandling, message: ReconcileMessage): Promise<ReconcileMessageOutcome> {
  const { services } = handling;
  const passId = message.passId ?? (handling.messageId === undefined ? randomUUID() : passIdOfMessage(handling.messageId));
  const step = message.step ?? 0;
  const recorded = await findPassPosition(services.prisma, passId);
  if (recorded?.state === 'completed') return { kind: 'reconcile-done', passId };
  if (recorded && recorded.step > step) {
    return { kind: 'reconcile-duplicate', passId, step, reason: `the pass is at step ${recorded.step}` };
  }
  if (!recorded && step > 0) throw new InvalidMessageError([`step ${step} of reconcile pass ${passId}, which is not recorded`]);
  if (recorded && recorded.step < step) throw new PassMovedError(passId, 'behind');
  let outcome: ReconcileOutcome;
  try {
    outcome = await reconcile(services, {
      apply: message.apply,
      passId,
      chunkSize: message.batchSize,
      maxPages: reconcilePagesPerStep,
      step,
    });
  } catch (error) {
    if (error instanceof PassMovedError) return { kind: 'reconcile-duplicate', passId, step, reason: error.message };
    throw error;
  }
  if (outcome.done) return { kind: 'reconcile', step, outcome };
  const next = step + 1;
  const [sent] = await handling.enqueue([
    { kind: 'reconcile', passId, apply: message.apply, batchSize: message.batchSize, step: next, cursor: outcome.cursor },
  ]);
  if (!(await advanceStep(services.prisma, passId, step, outcome.cursor))) {
    // Best effort: a successor already received finds the pass past its step, or the other delivery's successor does the step.
    if (sent) await handling.withdraw(sent).catch(() => undefined);
    return { kind: 'reconcile-duplicate', passId, step, reason: 'another delivery of this step recorded its end first' };
  }
  return { kind: 'reconcile', step, outcome, next };
}

/** The pass id of a `reconcile` message without one: a UUID made of the queue message's id, the same on every delivery. */
export function passIdOfMessage(messageId: string): string {
  const hex = createHash('sha256').update(`nostria-migrate reconcile message ${messageId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
