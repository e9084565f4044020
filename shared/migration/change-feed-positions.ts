import type { ChangeFeedMode } from '../config/change-feed-mode.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import type { PrismaClient } from '../postgres/prisma-client.js';

/**
 * Where PostgreSQL stands in Cosmos's change feed (`change_feed_positions`), per feed range: the
 * continuation after which it has not applied anything yet. A completed full load writes the whole set
 * (each range's final continuation: the load read everything before it); `migrate:incremental` and the
 * sync runner (`migrate:sync`) carry on from there and move each position on compare-and-set, so a
 * writer that started from an older position never moves one back over a newer one.
 */

/** The positions `migrate:incremental` and `migrate:sync` share: PostgreSQL's. */
export const defaultConsumer = 'postgresql';

export interface ChangeFeedPosition {
  rangeKey: string;
  continuation: string;
  mode: ChangeFeedMode;
}

/** The consumer's positions, ordered by range key (the ranges' order); empty before any full load completed. */
export async function loadPositions(prisma: PrismaClient, consumer = defaultConsumer): Promise<ChangeFeedPosition[]> {
  const rows = await prisma.changeFeedPosition.findMany({ where: { consumer }, orderBy: { rangeKey: 'asc' } });
  return rows.map((row) => ({ rangeKey: row.rangeKey, continuation: row.continuation, mode: row.mode as ChangeFeedMode }));
}

/** One range's position, or undefined if the consumer has none for it. */
export async function loadPosition(
  prisma: PrismaClient,
  rangeKey: string,
  consumer = defaultConsumer,
): Promise<ChangeFeedPosition | undefined> {
  const row = await prisma.changeFeedPosition.findUnique({ where: { consumer_rangeKey: { consumer, rangeKey } } });
  return row ? { rangeKey: row.rangeKey, continuation: row.continuation, mode: row.mode as ChangeFeedMode } : undefined;
}

/**
 * Replaces the consumer's positions with `positions`, in the caller's transaction (a full load's
 * completion). Every position a completed load writes is a correct place to continue from, whatever stood
 * before: the load itself applied everything before it. Ranges of an older set are dropped.
 */
export async function replacePositions(
  tx: Prisma.TransactionClient,
  positions: readonly ChangeFeedPosition[],
  consumer = defaultConsumer,
): Promise<void> {
  await tx.changeFeedPosition.deleteMany({ where: { consumer } });
  if (positions.length === 0) return;
  await tx.changeFeedPosition.createMany({
    data: positions.map((position) => ({ consumer, ...position, updatedAt: new Date() })),
  });
}

/** Removes the consumer's positions (the sync runner told to start from now, the beginning or a time). */
export async function clearPositions(prisma: PrismaClient, consumer = defaultConsumer): Promise<void> {
  await prisma.changeFeedPosition.deleteMany({ where: { consumer } });
}

/**
 * Moves one range's position from `expected` (null: the range has none yet) to `next`, if it still stands
 * at `expected`; returns whether it moved. Another writer that moved it meanwhile wins: its position is
 * kept, and the caller continues from there.
 */
export async function advancePosition(
  prisma: Pick<PrismaClient, '$executeRaw'> | Prisma.TransactionClient,
  rangeKey: string,
  expected: string | null,
  next: { continuation: string; mode: ChangeFeedMode },
  consumer = defaultConsumer,
): Promise<boolean> {
  if (expected === next.continuation) return true;
  const changed =
    expected === null
      ? await prisma.$executeRaw`
          INSERT INTO "change_feed_positions" ("consumer", "rangeKey", "continuation", "mode", "updatedAt")
          VALUES (${consumer}, ${rangeKey}, ${next.continuation}, ${next.mode}, now())
          ON CONFLICT DO NOTHING`
      : await prisma.$executeRaw`
          UPDATE "change_feed_positions" SET "continuation" = ${next.continuation}, "mode" = ${next.mode}, "updatedAt" = now()
          WHERE "consumer" = ${consumer} AND "rangeKey" = ${rangeKey} AND "continuation" = ${expected}`;
  return changed === 1;
}
