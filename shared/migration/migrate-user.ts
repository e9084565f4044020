import type { AppContext } from '../context/app-context.js';
import type { DocumentType } from '../domain/document-types.js';
import { type MigrationOptions, type MigrationProgress, startMigration } from './run-migration.js';
import type { RunPart, RunScope } from './runs.js';

/**
 * Per-user migrations: every document in one user's partition (all seven types, and anything else
 * stored there), or one type of them, read with a single-partition query. Safe to run at any time next
 * to a full migration and the sync: all three go through the same version-guarded write.
 */

function userScope(pubkey: string, part: RunPart, options: MigrationOptions): RunScope {
  if (pubkey.length === 0) throw new RangeError('pubkey must not be empty');
  return { parts: [part], reader: 'query', pubkey, skipExisting: options.skipExisting === true };
}

function userRun(ctx: AppContext, scope: RunScope, options: MigrationOptions): Promise<MigrationProgress> {
  return startMigration(
    ctx,
    { kind: 'user', description: `migration of user ${scope.pubkey ?? ''}`, scope: () => Promise.resolve(scope) },
    options,
    (saved) => saved.pubkey === scope.pubkey && saved.skipExisting === scope.skipExisting && saved.parts[0] === scope.parts[0],
  );
}

/** Migrates all of one user's documents, whatever their type. */
export function migrateUser(ctx: AppContext, pubkey: string, options: MigrationOptions = {}): Promise<MigrationProgress> {
  return userRun(ctx, userScope(pubkey, 'all', options), options);
}

/** Migrates one user's documents of one type (e.g. their backup jobs). */
export function migrateUserDocuments(
  ctx: AppContext,
  pubkey: string,
  type: DocumentType,
  options: MigrationOptions = {},
): Promise<MigrationProgress> {
  return userRun(ctx, userScope(pubkey, type, options), options);
}
