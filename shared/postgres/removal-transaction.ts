import type { Prisma } from './generated/prisma/client.js';
import { type PrismaClient, setTransactionTimeouts, timeoutsOf } from './prisma-client.js';
import { lockIdentities } from './tombstones.js';
import { retryTransient } from './transient-retry.js';

/**
 * Runs `work` in one transaction that removes rows (a synced delete, a tied row settled, a reconcile removal):
 * the write timeouts set, then the identities of `ids` locked exclusively before any row lock, so a write of
 * one of these documents waits for the removal or the removal for it; transient errors retried within the
 * client's window, the whole transaction again.
 */
export function inRemovalTransaction<T>(
  prisma: PrismaClient,
  ids: readonly string[],
  work: (tx: Prisma.TransactionClient) => Promise<T>,
  transaction?: { maxWait: number; timeout: number },
): Promise<T> {
  const timeouts = timeoutsOf(prisma);
  return retryTransient(
    () =>
      prisma.$transaction(async (tx) => {
        await setTransactionTimeouts(tx, timeouts);
        await lockIdentities(tx, ids, 'exclusive');
        return work(tx);
      }, transaction),
    { windowMs: timeouts.retryWindowMs },
  );
}
