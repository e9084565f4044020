import type { AppContext } from '../context/app-context.js';
import { type DocumentType, documentTypeNames } from '../domain/document-types.js';
import { type MigrationOptions, type MigrationProgress, startMigration } from './run-migration.js';
import type { RunPart, RunScope } from './runs.js';

/**
 * Whole-container migrations: one document type, or everything. Documents whose `type` is none of the
 * seven are read too (part `other`) and quarantined, so that every source document is accounted for.
 */

/** The parts of a full migration, in order: the seven types, then documents of no known type. */
export const allParts: readonly RunPart[] = [...documentTypeNames, 'other'];

function sameParts(a: readonly RunPart[], b: readonly RunPart[]): boolean {
  return a.length === b.length && a.every((part, index) => part === b[index]);
}

function wholeTypesScope(parts: readonly RunPart[], options: MigrationOptions): RunScope {
  return { parts: [...parts], skipExisting: options.skipExisting === true };
}

function sameWholeTypes(expected: RunScope): (scope: RunScope) => boolean {
  return (scope) => scope.pubkey === undefined && scope.skipExisting === expected.skipExisting && sameParts(scope.parts, expected.parts);
}

/** Migrates every document of one type (for `account-settings`, both of its `type` names). */
export function migrateType(ctx: AppContext, type: DocumentType, options: MigrationOptions = {}): Promise<MigrationProgress> {
  const scope = wholeTypesScope([type], options);
  return startMigration(ctx, { kind: 'type', scope }, options, sameWholeTypes(scope));
}

/** Migrates the whole container: every type, then the documents of no known type (to the quarantine). */
export function migrateAll(ctx: AppContext, options: MigrationOptions = {}): Promise<MigrationProgress> {
  const scope = wholeTypesScope(allParts, options);
  return startMigration(ctx, { kind: 'full', scope }, options, sameWholeTypes(scope));
}
