import type { PrismaClient } from './prisma-client.js';

/**
 * The `pending_sync` rows of the dual-mode mirror (target `cosmos`): documents whose Cosmos copy may be behind
 * PostgreSQL because a mirror write failed. Rows with other targets belong to the change-feed sync.
 */
export const mirrorTarget = 'cosmos';

/** What waits for the mirror: how many documents, since when, and when the next try is due. */
export interface PendingSyncBacklog {
  /** Entries waiting, due or not. */
  count: number;
  /** When the oldest of them was recorded (its first failed write); undefined when there are none. */
  oldestCreatedAt?: Date;
  /** When the first of them is due; undefined when there are none. */
  nextAttempt?: Date;
}

/**
 * The mirror's backlog in `pending_sync`: what must be empty before the primary can move back to Cosmos (every
 * write PostgreSQL took is then in Cosmos too). One query, PostgreSQL only.
 */
export async function pendingSyncBacklog(prisma: PrismaClient): Promise<PendingSyncBacklog> {
  const { _count, _min } = await prisma.pendingSync.aggregate({
    where: { target: mirrorTarget },
    _count: true,
    _min: { nextAttempt: true, createdAt: true },
  });
  return {
    count: _count,
    ...(_min.createdAt ? { oldestCreatedAt: _min.createdAt } : {}),
    ...(_min.nextAttempt ? { nextAttempt: _min.nextAttempt } : {}),
  };
}

/**
 * Gives each diverged entry among `keys` (reason code `diverged`, of a known document) a `pending_sync` entry, due
 * now: the mirror's retry then copies PostgreSQL's version over the one Cosmos kept, so the two agree again. Returns
 * how many documents it enlisted.
 */
export async function enlistDivergedForMirror(prisma: PrismaClient, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  return prisma.$executeRaw`
    INSERT INTO "pending_sync" ("target", "documentType", "pubkey", "documentId", "attempts", "lastError", "nextAttempt")
    SELECT ${mirrorTarget}, q."type", q."pubkey", q."documentId", 0, 'a diverged version settled in favour of PostgreSQL', now()
    FROM "quarantine" q
    WHERE q."key" = ANY(${[...keys]}::text[]) AND q."reasonCode" = 'diverged'
      AND q."type" IS NOT NULL AND q."pubkey" IS NOT NULL AND q."documentId" IS NOT NULL
    ON CONFLICT DO NOTHING`;
}
