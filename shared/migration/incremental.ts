import type { AppContext } from '../context/app-context.js';
import { allParts } from './migrate-type.js';
import { assertMayMigrate } from './migration-mode.js';
import { type MigrationOptions, type MigrationProgress, startMigration } from './run-migration.js';
import type { RunPart } from './runs.js';
import { loadWatermarks } from './watermarks.js';

export interface IncrementalOptions extends Omit<MigrationOptions, 'skipExisting'> {
  /**
   * Seconds re-read before each watermark. `_ts` has one-second resolution and is stamped by Cosmos's
   * clock while the watermark comes from PostgreSQL's, so a few seconds cover same-second writes and
   * ordinary clock skew. Default 5.
   */
  overlapSeconds?: number;
}

/** See {@link IncrementalOptions.overlapSeconds}. */
export const defaultOverlapSeconds = 5;

/**
 * Catches PostgreSQL up with what changed in Cosmos since the last completed migration of each type
 * (its watermark, minus the overlap), for teams running without the change-feed sync or after an
 * outage of it. A type never migrated completely has no watermark and is read in full. Deletions are
 * not seen (Cosmos queries return only live documents); the sync or verification handles those.
 * With `resume`, continues the latest unfinished incremental run with the watermarks it started from.
 */
export async function migrateIncremental(ctx: AppContext, options: IncrementalOptions = {}): Promise<MigrationProgress> {
  const overlap = options.overlapSeconds ?? defaultOverlapSeconds;
  assertMayMigrate(ctx.config, options.dryRun === true);
  const watermarks = await loadWatermarks(ctx.prisma);
  const since: Partial<Record<RunPart, number>> = {};
  for (const part of allParts) since[part] = Math.max(0, (watermarks[part] ?? 0) - overlap);
  return startMigration(ctx, { kind: 'incremental', scope: { parts: [...allParts], since, skipExisting: false } }, options, () => true);
}
