import type { DocumentType } from '../domain/document-types.js';
import { getServices } from '../runtime/services.js';
import {
  verifyAccountMigration,
  verifyAll,
  verifyUser,
  type FullVerificationReport,
  type UserVerificationReport,
  type VerifyAllOptions,
} from '../verification/index.js';
import { migrateIncremental, type IncrementalOptions } from './incremental.js';
import { assertMayMigrate } from './migration-mode.js';
import { migrateAll, migrateType } from './migrate-type.js';
import { migrateUser, migrateUserDocuments } from './migrate-user.js';
import { resumeRun, type MigrationContext, type MigrationOptions, type MigrationProgress } from './run-migration.js';

/**
 * The guide's migration API (docs: "Manual Migration"), on this process's services (`getServices()`).
 * Every method refuses to write unless MIGRATION_MODE=true (`MigrationModeDisabledError`); a dry run is
 * always allowed. The functions it delegates to take their dependencies as a `MigrationContext`, for
 * callers that bring their own clients.
 *
 * @example
 * const progress = await DataMigrationUtility.migrateAccounts({ batchSize: 100, skipExisting: true, dryRun: false });
 * await DataMigrationUtility.migrateUserBackupJobs('user-pubkey');
 * const isConsistent = await DataMigrationUtility.verifyAccountMigration('user-pubkey');
 */
export class DataMigrationUtility {
  private static context(): MigrationContext {
    const services = getServices();
    return { prisma: services.prisma, cosmos: services.cosmos, config: services.config };
  }

  /** Migrates every account, in pages of `batchSize`. */
  static migrateAccounts(options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateType(DataMigrationUtility.context(), 'account', options);
  }

  /** Migrates one user's backup jobs. */
  static migrateUserBackupJobs(pubkey: string, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateUserDocuments(DataMigrationUtility.context(), pubkey, 'backup-job', options);
  }

  /** Migrates every document of one type. */
  static migrateType(type: DocumentType, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateType(DataMigrationUtility.context(), type, options);
  }

  /** Migrates all of one user's documents (all seven types). */
  static migrateUser(pubkey: string, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateUser(DataMigrationUtility.context(), pubkey, options);
  }

  /** Migrates one user's documents of one type. */
  static migrateUserDocuments(pubkey: string, type: DocumentType, options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateUserDocuments(DataMigrationUtility.context(), pubkey, type, options);
  }

  /** Migrates everything; `options.onProgress` reports after every page. */
  static migrateAll(options: MigrationOptions = {}): Promise<MigrationProgress> {
    return migrateAll(DataMigrationUtility.context(), options);
  }

  /** Migrates what changed since the last completed run's watermark (minus an overlap). */
  static migrateIncremental(options: IncrementalOptions = {}): Promise<MigrationProgress> {
    return migrateIncremental(DataMigrationUtility.context(), options);
  }

  /** Continues an unfinished run from its checkpoints. */
  static resumeRun(runId: string, options: Omit<MigrationOptions, 'dryRun' | 'resume'> = {}): Promise<MigrationProgress> {
    return resumeRun(DataMigrationUtility.context(), runId, options);
  }

  /** Whether all of one user's documents agree on both sides (the guide's check; quarantined ones are reported, not counted against it). */
  static verifyAccountMigration(pubkey: string): Promise<boolean> {
    return verifyAccountMigration(DataMigrationUtility.context(), pubkey);
  }

  /** One user's field-by-field report: every difference with its path, secrets redacted. */
  static verifyUser(pubkey: string): Promise<UserVerificationReport> {
    return verifyUser(DataMigrationUtility.context(), pubkey);
  }

  /** Everything: counts, then per-record content hashes; `repair` re-migrates what differs (needs MIGRATION_MODE=true). */
  static async verifyAll(options: VerifyAllOptions = {}): Promise<FullVerificationReport> {
    const context = DataMigrationUtility.context();
    assertMayMigrate(context.config, !options.repair);
    return verifyAll(context, options);
  }
}
