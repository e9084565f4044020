import type { AppContext } from '../context/app-context.js';
import { NoChangeFeedPositionsError } from '../core/errors.js';
import { loadPositions } from './change-feed-positions.js';
import { assertMayMigrate } from './migration-mode.js';
import { type MigrationOptions, type MigrationProgress, startMigration } from './run-migration.js';
import { readerOf } from './runs.js';

export type IncrementalOptions = Omit<MigrationOptions, 'skipExisting'>;

/**
 * Catches PostgreSQL up with every change made in Cosmos since it last stood in the change feed: from
 * each feed range's position (where the last completed full load ended, or where `migrate:incremental`
 * or `migrate:sync` last moved it) until every range answers 304, as a run of kind `incremental` (one part
 * per range, checkpointed like a full load). Documents created, replaced or updated while the full load
 * ran are among those changes, so nothing is missed and nothing is guessed from timestamps. Reads the
 * LatestVersion feed: deletions are not seen (`migrate:sync` in AllVersionsAndDeletes mode carries them).
 * On completion each position moves to where its range ended, unless the sync runner moved it meanwhile.
 * With `resume`, continues the latest unfinished incremental run from its checkpoints.
 */
export function migrateIncremental(ctx: AppContext, options: IncrementalOptions = {}): Promise<MigrationProgress> {
  assertMayMigrate(ctx.config, options.dryRun === true);
  return startMigration(
    ctx,
    {
      kind: 'incremental',
      description: 'incremental migration',
      scope: async () => {
        const positions = await loadPositions(ctx.prisma);
        if (positions.length === 0) throw new NoChangeFeedPositionsError();
        return {
          parts: positions.map((position) => position.rangeKey),
          reader: 'change-feed',
          start: Object.fromEntries(positions.map((position) => [position.rangeKey, position.continuation])),
          skipExisting: false,
        };
      },
    },
    options,
    (saved) => readerOf(saved) === 'change-feed',
  );
}
