import type { AppConfig } from '../config/env.js';
import type { AppContext } from '../context/app-context.js';
import { phaseReaderOf } from '../context/phase-reader.js';
import { MigrationModeDisabledError, PostgresIsPrimaryError, ReconcileRefusedError } from '../core/errors.js';

/** Migration utilities write only when MIGRATION_MODE=true; a dry run writes nothing and is always allowed. */
export function assertMayMigrate(config: AppConfig, dryRun: boolean): void {
  if (!dryRun && !config.migrationMode) throw new MigrationModeDisabledError();
}

/**
 * Copying Cosmos into PostgreSQL (a migration run, a repair, a reconcile that removes rows) is right only while
 * Cosmos is primary: once PostgreSQL is, or a switch is under way, PostgreSQL holds writes Cosmos has not seen
 * (or has deletes Cosmos has not), and the copy would go backwards. The change-feed sync is not one of these: it
 * runs in every phase and tells the mirror's copies apart.
 */
export async function assertCosmosIsPrimary(ctx: Pick<AppContext, 'config' | 'prisma' | 'phases'>, operation: string): Promise<void> {
  const { phase } = await phaseReaderOf(ctx).current();
  if (phase !== 'cosmos' && phase !== 'cosmos-primary') throw new PostgresIsPrimaryError(phase, operation);
}

/** A reconcile that removes rows, refused as {@link assertCosmosIsPrimary} says, with its own error (`ReconcileRefusedError`). */
export async function refuseUnlessCosmosIsPrimary(ctx: Pick<AppContext, 'config' | 'prisma' | 'phases'>): Promise<void> {
  const { phase } = await phaseReaderOf(ctx).current();
  if (phase !== 'cosmos' && phase !== 'cosmos-primary') throw new ReconcileRefusedError();
}
