import { configuredSecrets } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { enqueueMigrationMessages, type SendOptions } from '../storage-queue/send-messages.js';

/**
 * When the next `pending-sync` message is delivered. The mirror sends one after each failed write and
 * each handled message sends itself again while entries remain; left alone, an outage with a thousand
 * failed writes would leave a thousand chains of messages retrying the same entries side by side. So
 * the delivery time of the one message that is scheduled is kept in `sync_state` under
 * {@link retryScheduleName}, and a message is sent only when none is due to arrive by the time wanted.
 * Whoever handles that message reads the backlog afresh and schedules the next, so an entry recorded
 * while a message was pending is never left without one. A time in the past means "none scheduled":
 * a message lost on the way (or poisoned) holds nothing up beyond its own delivery time.
 */
export const retryScheduleName = 'pending-sync.next-retry';

const minDelaySeconds = 10;
const maxDelaySeconds = 15 * 60;

/**
 * Seconds to hold the message back for entries first due at `at`: 10 s to 15 min (the backoff's own
 * range) while they are not due; none for a backlog that is due already, which the message works
 * through batch by batch without waiting.
 */
export function retryDelaySeconds(at: Date, now: Date): number {
  const wait = Math.ceil((at.getTime() - now.getTime()) / 1000);
  if (wait <= 0) return 0;
  return Math.min(Math.max(wait, minDelaySeconds), maxDelaySeconds);
}

export interface ScheduledRetry {
  /** Seconds from now until the message wanted is delivered. */
  delaySeconds: number;
  /** False when a message already scheduled arrives by then, and none was sent. */
  sent: boolean;
}

/**
 * Makes sure a `pending-sync` message arrives by the time the entries first due at `at` are due
 * (bounded by {@link retryDelaySeconds}): sends one with that delay, unless the one already scheduled
 * arrives by then. `send` sends the message with the given options; if it fails, the schedule is
 * taken back and the error thrown.
 */
export async function scheduleRetry(
  prisma: PrismaClient,
  at: Date,
  now: Date,
  send: (options: SendOptions) => Promise<unknown>,
): Promise<ScheduledRetry> {
  const delaySeconds = retryDelaySeconds(at, now);
  const deliverAt = now.getTime() + delaySeconds * 1000;
  if (!(await claimDelivery(prisma, deliverAt, now.getTime()))) return { delaySeconds, sent: false };
  try {
    await send({ delaySeconds });
  } catch (error) {
    // Best effort: if this fails too, the claim lapses by itself at `deliverAt`.
    await prisma.$executeRaw`DELETE FROM "sync_state"
      WHERE "name" = ${retryScheduleName} AND "value" ->> 'at' = ${String(deliverAt)}`.catch(() => undefined);
    throw error;
  }
  return { delaySeconds, sent: true };
}

/**
 * Records `deliverAt` as the scheduled delivery if there is none in the future or the scheduled one is
 * later; true if so. One statement, so concurrent claims serialise on the row.
 */
async function claimDelivery(prisma: PrismaClient, deliverAt: number, now: number): Promise<boolean> {
  const claimed = await prisma.$queryRaw<unknown[]>`
    INSERT INTO "sync_state" AS cur ("name", "value", "updatedAt")
    VALUES (${retryScheduleName}, jsonb_build_object('at', ${deliverAt}::bigint), now())
    ON CONFLICT ("name") DO UPDATE SET "value" = EXCLUDED."value", "updatedAt" = now()
    WHERE COALESCE((cur."value" ->> 'at')::bigint, 0) <= ${now}::bigint OR (cur."value" ->> 'at')::bigint > ${deliverAt}::bigint
    RETURNING 1`;
  return claimed.length > 0;
}

/**
 * After the mirror recorded a failed write due again at `at`: schedules a `pending-sync` message for it
 * when the migration queue is configured. Best effort, never throws: the `pending_sync` row is the
 * durable record, which the next message (or `npm run migrate:pending-sync`) picks up; a failure here
 * is only logged, masked.
 */
export async function requestPendingSyncRetry(services: AppContext, at: Date, now = new Date()): Promise<void> {
  if (!services.config.queue) return;
  try {
    await scheduleRetry(services.prisma, at, now, (options) =>
      enqueueMigrationMessages(services.config, [{ kind: 'pending-sync' }], options),
    );
  } catch (error) {
    console.warn(
      'dual database mode: a Cosmos write is recorded in pending_sync but no retry message could be queued ' +
        `(the next message or npm run migrate:pending-sync will copy it): ${safeErrorMessage(error, configuredSecrets(services))}`,
    );
  }
}
