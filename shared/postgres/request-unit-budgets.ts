import type { PrismaClient } from './prisma-client.js';

/**
 * The shared request-unit buckets (`request_unit_budgets`): one row per budget, which every process
 * reading Cosmos under that budget takes its grants from, so that all of them together stay within it
 * however many there are (the queue's chains on many Function instances, several CLI processes). The
 * refill is computed from the database's own clock (`clock_timestamp()`), so the processes' clocks do not
 * need to agree. One statement per grant: read, refill, take and save happen under the row's lock.
 */

export interface TakeRequestUnits {
  /** The budget's rate: request units per second. */
  perSecond: number;
  /** The most the bucket holds (a burst allowance): request units. */
  capacity: number;
  /** What this grant takes: request units. */
  requested: number;
}

/**
 * Takes `requested` request units from the bucket `name` (created full on first use) and returns what it
 * holds after the take and how long the taker must wait before spending them: the bucket may be in debt
 * (negative) to other takers, and the refill at `perSecond` must cover that debt first.
 */
export async function takeRequestUnits(
  prisma: PrismaClient,
  name: string,
  take: TakeRequestUnits,
): Promise<{ tokens: number; waitMs: number }> {
  const [row] = await prisma.$queryRaw<Array<{ tokens: number }>>`
    INSERT INTO "request_unit_budgets" AS b ("name", "tokens", "refilledAt")
    VALUES (${name}, ${take.capacity}::double precision - ${take.requested}::double precision, clock_timestamp())
    ON CONFLICT ("name") DO UPDATE SET
      "tokens" = LEAST(
        ${take.capacity}::double precision,
        b."tokens" + ${take.perSecond}::double precision
          * GREATEST(0, EXTRACT(EPOCH FROM EXCLUDED."refilledAt" - b."refilledAt"))::double precision
      ) - ${take.requested}::double precision,
      "refilledAt" = GREATEST(b."refilledAt", EXCLUDED."refilledAt")
    RETURNING "tokens"`;
  const tokens = row?.tokens ?? 0;
  return { tokens, waitMs: tokens < 0 ? (-tokens / take.perSecond) * 1000 : 0 };
}
