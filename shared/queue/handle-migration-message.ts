import { createHash, randomUUID } from 'node:crypto';
import type { AppContext } from '../context/app-context.js';
import { InvalidMessageError } from '../core/errors.js';
import { loadCheckpoints } from '../migration/checkpoints.js';
import { completeRunIfDone } from '../migration/complete-run.js';
import { fullLoadScope } from '../migration/migrate-type.js';
import { migrateUser } from '../migration/migrate-user.js';
import { assertCosmosIsPrimary, assertMayMigrate } from '../migration/migration-mode.js';
import { CheckpointMovedError, pageStep, stepPosition } from '../migration/page-step.js';
import { readSettingsOf } from '../migration/read-budget.js';
import { type MigrationProgress, resumeRun } from '../migration/run-migration.js';
import { createRun, createRunOnce, findRun, type RunPart, type RunScope } from '../migration/runs.js';
import { pendingSyncBacklog, retryPendingSync } from '../mirror/pending-sync.js';
import { type ScheduledRetry, scheduleRetry } from '../mirror/pending-sync-retry.js';
import {
  type BatchMessage,
  type DocumentsMessage,
  type FullMessage,
  type MigrationMessage,
  type MigrationMessageInput,
  type UserMessage,
} from '../storage-queue/messages.js';
import type { SendOptions, SentMessage } from '../storage-queue/send-messages.js';
import { type SwitchResult } from '../switch/run-switch.js';
import { type ResyncOutcome, resyncDocuments } from '../sync/resync-documents.js';
import { type ReconcileMessageOutcome, reconcileFromMessage } from './reconcile-message.js';
import { switchFromMessage } from './switch-message.js';

/** What handling needs besides the services: the queue, to send follow-up messages and take one back. */
export interface MessageHandling {
  services: AppContext;
  enqueue(messages: readonly MigrationMessageInput[], options?: SendOptions): Promise<SentMessage[]>;
  withdraw(sent: SentMessage): Promise<void>;
  /** The time, for what is due when (default: the system clock); tests pin it. */
  now?: () => Date;
  /**
   * The queue message's id, the same on every delivery of that message: a `full` message without a run id
   * records its run under an id derived from it, so a redelivery continues that run instead of starting another.
   */
  messageId?: string;
}

export type MessageOutcome =
  | { kind: 'fanned-out'; runId: string; parts: RunPart[]; dryRun: boolean }
  | {
      kind: 'page';
      runId: string;
      part: RunPart;
      dryRun: boolean;
      documents: number;
      written: number;
      unchanged: number;
      quarantined: number;
      failed: number;
      /** Request units the page's Cosmos reads cost, and the 429s they met. */
      requestCharge: number;
      throttled: number;
      /** This was the part's last page. */
      partDone: boolean;
      /** Every part of the run is done and the run is marked completed. */
      runCompleted: boolean;
    }
  /** Another delivery of the same page committed first, or the run is already complete: nothing to do. */
  | { kind: 'duplicate'; runId: string; part: RunPart; reason: string }
  | {
      kind: 'user';
      runId: string;
      pubkey: string;
      dryRun: boolean;
      processed: number;
      written: number;
      quarantined: number;
      /** Rows PostgreSQL refused (kept in the quarantine with its reason). */
      failed: number;
    }
  | { kind: 'resync'; outcome: ResyncOutcome }
  | { kind: 'switch'; result: SwitchResult }
  | ReconcileMessageOutcome
  | {
      kind: 'pending-sync';
      written: number;
      deleted: number;
      failed: number;
      /** Entries still waiting (failed again, not due yet, or beyond this message's batch). */
      remaining: number;
      /** When the next message is delivered (in seconds), and whether this one sent it; absent when nothing remains. */
      next?: ScheduledRetry;
    };

/**
 * Does what one migration queue message asks. Idempotent: the queue delivers at least once, so every
 * kind tolerates being handled twice, or late. Throws `InvalidMessageError` for a message that can
 * never succeed (unknown run, user not matching its run), `MigrationModeDisabledError` for a write
 * without MIGRATION_MODE, and infrastructure errors as they come; all of them send the message back to
 * the queue and, after `maxDequeueCount` tries, to the poison queue.
 */
export async function handleMigrationMessage(handling: MessageHandling, message: MigrationMessage): Promise<MessageOutcome> {
  switch (message.kind) {
    case 'full':
      return fanOut(handling, message);
    case 'batch':
      return migrateBatch(handling, message);
    case 'user':
      return migrateOneUser(handling, message);
    case 'documents':
      return resync(handling, message);
    case 'pending-sync':
      return retryPendingWrites(handling);
    case 'reconcile':
      return reconcileFromMessage(handling, message);
    case 'switch':
      return { kind: 'switch', result: await switchFromMessage(handling.services, message) };
  }
}

/**
 * One first-page batch message per feed range that is not done yet (one chain per physical partition);
 * the chains then run in parallel, on as many instances as the host gives them.
 */
async function fanOut(handling: MessageHandling, message: FullMessage): Promise<MessageOutcome> {
  const { services } = handling;
  assertMayMigrate(services.config, message.dryRun);
  if (!message.dryRun) await assertCosmosIsPrimary(services, 'A migration');
  let runId = message.runId ?? randomUUID();
  let scope: RunScope;
  let parts: RunPart[];
  if (message.dryRun) {
    scope = await scopeOf(services, message);
    parts = scope.parts;
  } else {
    const kind = message.types?.length === 1 ? 'type' : 'full';
    const run = message.runId
      ? await findRun(services.prisma, message.runId)
      : handling.messageId
        ? await createRunOnce(services.prisma, runIdOfMessage(handling.messageId), kind, () => scopeOf(services, message))
        : await createRun(services.prisma, kind, await scopeOf(services, message));
    if (!run) throw new InvalidMessageError([`unknown run ${message.runId}: omit runId to start a new run`]);
    runId = run.id;
    scope = run.scope;
    // A recorded run's own scope decides, and parts already done are not started again.
    const checkpoints = await loadCheckpoints(services.prisma, run.id);
    if (run.scope.reader !== 'change-feed') throw new InvalidMessageError([`run ${run.id} does not read the change feed by feed range`]);
    parts = run.scope.parts.filter((part) => !checkpoints.get(part)?.done);
  }
  await handling.enqueue(
    parts.map((part) => ({
      kind: 'batch' as const,
      runId,
      range: part,
      continuation: null,
      batchSize: message.batchSize,
      dryRun: message.dryRun,
      ...(message.dryRun && scope.types ? { types: scope.types } : {}),
    })),
  );
  return { kind: 'fanned-out', runId, parts, dryRun: message.dryRun };
}

/** The run id of a `full` message without one: a UUID made of the queue message's id, the same on every delivery. */
export function runIdOfMessage(messageId: string): string {
  const digits = createHash('sha256').update(`nostria-migrate full message ${messageId}`).digest('hex').slice(0, 32).split('');
  // Shaped as a version 4 UUID (version and variant digits set), so it reads like every other run id.
  digits[12] = '4';
  digits[16] = ((Number.parseInt(digits[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const hex = digits.join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What a new run of a `full` message covers: the feed ranges, keeping the listed types only when it lists some. */
function scopeOf(services: AppContext, message: FullMessage): Promise<RunScope> {
  return fullLoadScope(services, message.types ? { types: message.types } : {});
}

/**
 * One page of one part (the engine's page step). The next message is enqueued inside the page's
 * transaction, right before the checkpoint commits, so a committed checkpoint always has a successor; if
 * the commit then fails, or the checkpoint turns out to have moved, the successor is taken back.
 */
async function migrateBatch(handling: MessageHandling, message: BatchMessage): Promise<MessageOutcome> {
  const { services } = handling;
  assertMayMigrate(services.config, message.dryRun);
  if (!message.dryRun) await assertCosmosIsPrimary(services, 'A migration');
  const part = message.range;
  // A dry run has no recorded scope: the message says what its chain reads.
  let scope: RunScope = { parts: [part], reader: 'change-feed', skipExisting: false, ...(message.types ? { types: message.types } : {}) };
  if (!message.dryRun) {
    const run = await findRun(services.prisma, message.runId);
    if (!run) throw new InvalidMessageError([`unknown run ${message.runId}`]);
    if (!run.scope.parts.includes(part)) throw new InvalidMessageError([`run ${message.runId} has no part ${part}`]);
    if (run.state === 'completed') return { kind: 'duplicate', runId: run.id, part, reason: 'the run is complete' };
    // Cheap early exit for a page someone already did; the locked check in the page step is the one that counts.
    const checkpoint = (await loadCheckpoints(services.prisma, run.id)).get(part);
    if (stepPosition(checkpoint, message) === 'stale') {
      return { kind: 'duplicate', runId: run.id, part, reason: 'the checkpoint has moved past this page' };
    }
    scope = run.scope;
  }

  let successor: Promise<SentMessage | undefined> | undefined;
  const { runId, continuation, previous, batchSize, dryRun } = message;
  const step = { runId, part, scope, continuation, previous, batchSize, dryRun, skipExisting: scope.skipExisting };
  try {
    const page = await pageStep(services, step, readSettingsOf(services), async (next) => {
      // A transaction retried after a transient error runs this again: the successor is sent once.
      successor ??= next.done
        ? Promise.resolve(undefined)
        : handling.enqueue([{ ...message, continuation: next.continuation, previous: message.continuation }]).then(([sent]) => sent);
      await successor;
    });
    const runCompleted = page.done && !message.dryRun ? await completeRunIfDone(services.prisma, message.runId) : false;
    return {
      kind: 'page',
      runId: message.runId,
      part,
      dryRun: message.dryRun,
      documents: page.documents,
      written: page.result.written,
      unchanged: page.result.unchanged + page.result.skipped,
      quarantined: page.result.quarantined,
      failed: page.result.failed,
      requestCharge: page.requestCharge,
      throttled: page.throttled,
      partDone: page.done,
      runCompleted,
    };
  } catch (error) {
    const sent = await successor?.catch(() => undefined);
    // Best effort: once another instance has received the successor it can no longer be taken back, and
    // it will find the checkpoint where it is and act on that.
    if (sent) await handling.withdraw(sent).catch(() => undefined);
    if (error instanceof CheckpointMovedError && error.position === 'stale') {
      return { kind: 'duplicate', runId: message.runId, part, reason: error.message };
    }
    throw error;
  }
}

/** A user's documents: continues the recorded run if the message names one, else a new (or dry) run. */
async function migrateOneUser(handling: MessageHandling, message: UserMessage): Promise<MessageOutcome> {
  const { services } = handling;
  assertMayMigrate(services.config, message.dryRun);
  if (!message.dryRun) await assertCosmosIsPrimary(services, 'A migration');
  if (message.runId && !message.dryRun) {
    const run = await findRun(services.prisma, message.runId);
    if (!run) throw new InvalidMessageError([`unknown run ${message.runId}`]);
    if (run.scope.pubkey !== message.pubkey) {
      throw new InvalidMessageError([`run ${message.runId} is not a migration of user ${message.pubkey}`]);
    }
    return userOutcome(message, await resumeRun(services, run.id));
  }
  return userOutcome(message, await migrateUser(services, message.pubkey, { dryRun: message.dryRun }));
}

function userOutcome(message: UserMessage, progress: MigrationProgress): MessageOutcome {
  const { runId, dryRun, processed, written, quarantined, failed } = progress;
  return { kind: 'user', runId, pubkey: message.pubkey, dryRun, processed, written, quarantined, failed };
}

async function resync(handling: MessageHandling, message: DocumentsMessage): Promise<MessageOutcome> {
  return { kind: 'resync', outcome: await resyncDocuments(handling.services, message.documents) };
}

/**
 * One batch of pending mirror writes (`retryPendingSync`: each due document's current PostgreSQL state
 * copied to Cosmos), then, while entries remain, the next message for when the first of them is due.
 * Needs no MIGRATION_MODE: it finishes writes the application already made, it migrates nothing.
 */
async function retryPendingWrites(handling: MessageHandling): Promise<MessageOutcome> {
  const { services } = handling;
  const now = handling.now?.() ?? new Date();
  const outcomes = await retryPendingSync(services, { now });
  const backlog = await pendingSyncBacklog(services.prisma);
  const next = backlog.nextAttempt
    ? await scheduleRetry(services.prisma, backlog.nextAttempt, now, (options) => handling.enqueue([{ kind: 'pending-sync' }], options))
    : undefined;
  const count = (outcome: 'written' | 'deleted' | 'failed') => outcomes.filter((entry) => entry.outcome === outcome).length;
  return {
    kind: 'pending-sync',
    written: count('written'),
    deleted: count('deleted'),
    failed: count('failed'),
    remaining: backlog.count,
    next,
  };
}
