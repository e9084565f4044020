import type { AppContext } from '../context/app-context.js';
import type { DocumentType } from '../domain/document-types.js';
import { type MigrationOptions, type MigrationProgress, startMigration } from './run-migration.js';
import type { RunPart, RunScope } from './runs.js';

/**
 * Per-user migrations: every document in one user's partition (all seven types, and anything else
 * stored there), or one type of them. Safe to run at any time next to a full migration and the sync:
 * all three go through the same version-guarded write.
 */

function userScope(pubkey: string, part: RunPart, options: MigrationOptions): RunScope {
  if (pubkey.length === 0) throw new RangeError('pubkey must not be empty');
  return { parts: [part], pubkey, skipExisting: options.skipExisting === true };
}

function sameUserScope(expected: RunScope): (scope: RunScope) => boolean {
  return (scope) =>
    scope.pubkey === expected.pubkey && scope.skipExisting === expected.skipExisting && scope.parts[0] === expected.parts[0];
}

/** Migrates all of one user's documents, whatever their type. */
export function migrateUser(ctx: AppContext, pubkey: string, options: MigrationOptions = {}): Promise<MigrationProgress> {
  const scope = userScope(pubkey, 'all', options);
  return startMigration(ctx, { kind: 'user', scope }, options, sameUserScope(scope));
}

/** Migrates one user's documents of one type (e.g. their backup jobs). */
export function migrateUserDocuments(
  ctx: AppContext,
  pubkey: string,
  type: DocumentType,
  options: MigrationOptions = {},
): Promise<MigrationProgress> {
  const scope = userScope(pubkey, type, options);
  return startMigration(ctx, { kind: 'user', scope }, options, sameUserScope(scope));
}
