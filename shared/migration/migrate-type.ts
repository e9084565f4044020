import type { AppContext } from '../context/app-context.js';
import { listFeedRanges, rangeKey } from '../cosmos/feed-ranges.js';
import type { DocumentType } from '../domain/document-types.js';
import { type MigrationOptions, type MigrationProgress, startMigration } from './run-migration.js';
import { type RunScope, readerOf } from './runs.js';

/**
 * Whole-container migrations, from the change feed, one part per feed range (Microsoft's guidance for a
 * one-time migration of existing data: each document read once, at its latest version), each document
 * routed by its `type` in code: the seven types, the legacy alias, and everything else to the quarantine,
 * so every source document is accounted for. A range is done at its first 304; a full load's final
 * continuations become PostgreSQL's change-feed positions, from which `migrate:incremental` and
 * `migrate:sync` carry on. A run by type reads the same way and keeps only its type (see part-reader.ts).
 */

/** The scope of a run over the whole container: its feed ranges now, read from the beginning of the change feed. */
export async function fullLoadScope(
  ctx: Pick<AppContext, 'cosmos'>,
  options: Pick<MigrationOptions, 'skipExisting'> & { types?: DocumentType[] } = {},
): Promise<RunScope> {
  const ranges = await listFeedRanges(ctx.cosmos);
  return {
    parts: ranges.map(rangeKey),
    reader: 'change-feed',
    ...(options.types ? { types: options.types } : {}),
    skipExisting: options.skipExisting === true,
  };
}

/**
 * Migrates every document of one type (for `account-settings`, both of its `type` names). It reads the
 * whole change feed, as the full load does (so it costs about as many request units), and keeps the type.
 */
export function migrateType(ctx: AppContext, type: DocumentType, options: MigrationOptions = {}): Promise<MigrationProgress> {
  const skipExisting = options.skipExisting === true;
  return startMigration(
    ctx,
    { kind: 'type', description: `${type} migration`, scope: () => fullLoadScope(ctx, { skipExisting, types: [type] }) },
    options,
    (saved) => readerOf(saved) === 'change-feed' && saved.skipExisting === skipExisting && sameTypes(saved.types, [type]),
  );
}

function sameTypes(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((type, index) => type === b[index]);
}

/**
 * Migrates the whole container from the change feed, range by range, up to `concurrency` ranges at once.
 * With `resume`, continues the latest unfinished full load: its ranges are the ones listed when it started
 * (a range that split since is followed into its children by the SDK, from its continuation).
 */
export function migrateAll(ctx: AppContext, options: MigrationOptions = {}): Promise<MigrationProgress> {
  const skipExisting = options.skipExisting === true;
  return startMigration(
    ctx,
    { kind: 'full', description: 'full migration', scope: () => fullLoadScope(ctx, { skipExisting }) },
    options,
    // A full run recorded before the change feed was read (its parts are types) is not continued: a new load starts.
    (saved) => readerOf(saved) === 'change-feed' && saved.skipExisting === skipExisting && saved.types === undefined,
  );
}
