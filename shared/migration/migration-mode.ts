import type { AppConfig } from '../config/env.js';

/** A migration that would write was started without MIGRATION_MODE=true. */
export class MigrationModeDisabledError extends Error {
  override readonly name = 'MigrationModeDisabledError';
  constructor() {
    super('Migration utilities are disabled: set MIGRATION_MODE=true to let them write to PostgreSQL (a dry run is always allowed).');
  }
}

/** Migration utilities write only when MIGRATION_MODE=true; a dry run writes nothing and is always allowed. */
export function assertMayMigrate(config: AppConfig, dryRun: boolean): void {
  if (!dryRun && !config.migrationMode) throw new MigrationModeDisabledError();
}
