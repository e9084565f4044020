import type { PrismaClient } from '../postgres/prisma-client.js';
import type { RunPart } from './runs.js';

/**
 * Per document type, the `_ts` (seconds) up to which PostgreSQL is known to hold every change: the
 * start time of the last completed run that read the whole type. Not the largest `_ts` it saw: a
 * document changed while the run was paging may have been passed over, and anything changed after
 * the start is re-read by the next incremental run. Kept in `sync_state` under {@link watermarkName}.
 */
export const watermarkName = 'migration.watermarks';

export type Watermarks = Partial<Record<RunPart, number>>;

/** The saved watermarks; empty before the first completed whole-type run. */
export async function loadWatermarks(prisma: PrismaClient): Promise<Watermarks> {
  const row = await prisma.syncState.findUnique({ where: { name: watermarkName } });
  const value = row?.value;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const watermarks: Watermarks = {};
  for (const [part, ts] of Object.entries(value)) {
    if (typeof ts === 'number') watermarks[part as RunPart] = ts;
  }
  return watermarks;
}

/** Moves the parts' watermarks to `ts`, never backwards (a long run finishing after a newer one keeps the newer mark). */
export async function advanceWatermarks(prisma: PrismaClient, parts: readonly RunPart[], ts: number): Promise<void> {
  if (parts.length === 0) return;
  const marks = Object.fromEntries(parts.map((part) => [part, ts]));
  await prisma.$executeRawUnsafe(
    `INSERT INTO "sync_state" AS cur ("name", "value", "updatedAt") VALUES ($1, $2::jsonb, now())
     ON CONFLICT ("name") DO UPDATE SET
       "value" = (
         SELECT jsonb_object_agg(k, GREATEST(COALESCE((cur."value" ->> k)::bigint, 0), COALESCE((EXCLUDED."value" ->> k)::bigint, 0)))
         FROM jsonb_object_keys(cur."value" || EXCLUDED."value") AS k
       ),
       "updatedAt" = now()`,
    watermarkName,
    JSON.stringify(marks),
  );
}
