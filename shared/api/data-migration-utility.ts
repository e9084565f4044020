import type { DocumentType } from '../domain/document-types.js';
import { type IncrementalOptions, migrateIncremental } from '../migration/incremental.js';
import { migrateAll, migrateType } from '../migration/migrate-type.js';
import { migrateUser, migrateUserDocuments } from '../migration/migrate-user.js';
import { assertCosmosIsPrimary, assertMayMigrate } from '../migration/migration-mode.js';
import { type MigrationOptions, type MigrationProgress, resumeRun } from '../migration/run-migration.js';
import { getServices } from '../runtime/services.js';
import {
  type FullVerificationReport,
  type UserVerificationReport,
  type VerifyAllOptions,
  verifyAccountMigration,
  verifyAll,
  verifyUser,
} from '../verification/index.js';

/**
 * The guide's migration API (docs: "Manual Migration"), on this process's services (`getServices()`).
 * Every method refuses to write unless MIGRATION_MODE=true (`MigrationModeDisabledError`); a dry run is
 * always allowed. The functions it delegates to take their dependencies as a `AppContext`, for
 * callers that bring their own clients.
 *
 * @example
 * const progress = await DataMigrationUtility.migrateAccounts({ batchSize: 100, skipExisting: true, dryRun: false });
 * await DataMigrationUtility.migrateUserBackupJobs('user-pubkey');
 * const isConsistent = await DataMigrationUtility.verifyAccountMigration('user-pubkey');
 */
export const DataMigrationUtility = {
  /** Migrates every account, in pages of `batchSize`. */
  migrateAccounts(options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateType(getServices(), 'account', options);
  },

  /** Migrates one user's backup jobs. */
  migrateUserBackupJobs(pubkey: string, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateUserDocuments(getServices(), pubkey, 'backup-job', options);
  },

  /** Migrates every document of one type. */
  migrateType(type: DocumentType, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateType(getServices(), type, options);
  },

  /** Migrates all of one user's documents (all seven types). */
  migrateUser(pubkey: string, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateUser(getServices(), pubkey, options);
  },

  /** Migrates one user's documents of one type. */
  migrateUserDocuments(pubkey: string, type: DocumentType, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateUserDocuments(getServices(), pubkey, type, options);
  },

  /** Migrates everything from the change feed, feed range by feed range; `options.onProgress` reports after every page. */
  migrateAll(options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateAll(getServices(), options);
  },

  /**
   * Applies every change made in Cosmos since PostgreSQL's change-feed positions (where the last completed
   * full load ended, or where a catch-up or the sync runner left them), then moves them on. Throws
   * `NoChangeFeedPositionsError` before any full load has completed.
   */
  migrateIncremental(options: IncrementalOptions = {}): Promise<MigrationProgress> {
    return migrateIncremental(getServices(), options);
  },

  /** Continues an unfinished run from its checkpoints. */
  resumeRun(runId: string, options: Omit<MigrationOptions, 'dryRun' | 'resume'> = {}): Promise<MigrationProgress> {
    return resumeRun(getServices(), runId, options);
  },

  /**
   * Whether PostgreSQL serves exactly what Cosmos holds for one user (the guide's check). An open quarantined version
   * newer than its row, or a quarantined document waiting for a row, counts against it; documents no table can hold
   * (and entries an operator resolved) are reported, not counted (see `UserVerificationReport.consistent`).
   */
  verifyAccountMigration(pubkey: string): Promise<boolean> {
    return verifyAccountMigration(getServices(), pubkey);
  },

  /** One user's field-by-field report: every difference with its path, secrets redacted. */
  verifyUser(pubkey: string): Promise<UserVerificationReport> {
    return verifyUser(getServices(), pubkey);
  },

  /** Everything: counts, then per-record content hashes; `repair` re-migrates what differs (needs MIGRATION_MODE=true). */
  async verifyAll(options: VerifyAllOptions = {}): Promise<FullVerificationReport> {
    const context = getServices();
    assertMayMigrate(context.config, !options.repair);
    if (options.repair) await assertCosmosIsPrimary(context, 'A repair');
    return verifyAll(context, options);
  },
};
