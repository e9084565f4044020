import type { AppConfig } from '../config/env.js';
import { MigrationModeDisabledError } from '../core/errors.js';

/** Migration utilities write only when MIGRATION_MODE=true; a dry run writes nothing and is always allowed. */
export function assertMayMigrate(config: AppConfig, dryRun: boolean): void {
  if (!dryRun && !config.migrationMode) throw new MigrationModeDisabledError();
}
