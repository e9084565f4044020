import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { phaseReaderOf } from '../context/phase-reader.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { createCosmosRepositories } from '../cosmos/cosmos-repository.js';
import { cosmosPointReader } from '../cosmos/point-reads.js';
import { mirrorsToCosmos, phaseOfFlags, primaryOf, type SteadyPhase } from '../domain/phase.js';
import type { Repositories } from '../domain/repository-contract.js';
import type {
  AccountRepository,
  BackupJobRepository,
  NotificationLogRepository,
  NotificationSettingsRepository,
  NotificationSubscriptionRepository,
  PaymentRepository,
  ServiceRepositories,
  UserSettingsRepository,
} from '../domain/service-repositories.js';
import { recordPendingSync } from '../mirror/pending-sync.js';
import { requestPendingSyncRetry } from '../mirror/pending-sync-retry.js';
import { createPrismaRepositories } from '../postgres/prisma-repository.js';
import { closeServices, getServices } from '../runtime/services.js';
import { applyChangeSet } from '../sync/sync-change-batch.js';
import { carryDeletes } from './carry-deletes.js';
import { checkCosmosHealth, checkPostgresHealth, type HealthCheckOptions } from './health-check.js';
import { mirrorRepositories } from './mirror-writes.js';
import { phaseRoutedRepositories } from './phase-routed-repositories.js';
import type { ServiceRepositoryOptions } from './service/service-clock.js';
import { createServiceRepositories } from './service/service-repositories.js';

/**
 * The repositories of the phase (`domain/phase.ts`), asked on every call (`phase-routed-repositories.ts`):
 *
 * | phase (the guide's flags)             | reads      | writes                                                   |
 * |---------------------------------------|------------|----------------------------------------------------------|
 * | cosmos (USE_POSTGRESQL=false)         | Cosmos     | Cosmos                                                   |
 * | cosmos-primary (false, DUAL=true)     | Cosmos     | Cosmos; the change-feed sync function copies to PostgreSQL; deletes are also carried at once (`carry-deletes.ts`) |
 * | postgresql (true, DUAL=false)         | PostgreSQL | PostgreSQL                                               |
 * | postgresql-primary (true, DUAL=true)  | PostgreSQL | PostgreSQL, then mirrored to Cosmos (failures retried via pending_sync) |
 * | switching-to-…                        | the side before the switch | wait for the switch (`SwitchInProgressError` after 10 s) |
 *
 * The phase is the one `migrate:switch` recorded, or the flags where none was. With Cosmos primary the writes are
 * not mirrored here because the sync function already carries every Cosmos change to PostgreSQL; with PostgreSQL
 * primary the mirror marks its copies, so the sync knows them for echoes and never writes them back. A failed
 * mirror write is recorded in pending_sync and, when the migration queue is configured, a `pending-sync` message
 * is scheduled for when it is due; the queue function then copies it (`npm run migrate:pending-sync` does it by hand).
 */
export function createRepositories(services: AppContext): Repositories {
  // What the settings' own phase needs is built now, so a missing setting is named before the first call.
  const fallback = phaseOfFlags(services.config.usePostgres, services.config.dualDatabaseMode);
  let cosmos = primaryOf(fallback) === 'cosmos' || mirrorsToCosmos(fallback) ? createCosmosRepositories(services.cosmos) : undefined;
  let postgres = primaryOf(fallback) === 'postgresql' ? createPrismaRepositories(services.prisma) : undefined;
  let mirrored: Repositories | undefined;
  let carrying: Repositories | undefined;
  const forPhase = (phase: SteadyPhase): Repositories => {
    if (primaryOf(phase) === 'cosmos') {
      cosmos ??= createCosmosRepositories(services.cosmos);
      if (phase !== 'cosmos-primary' || services.config.databaseUrl === undefined) return cosmos;
      carrying ??= carryDeletes(cosmos, (deletes) =>
        applyChangeSet(
          services.prisma,
          cosmosPointReader(services.cosmos),
          { upserts: [], deletes },
          { retentionDays: services.config.deleteRetentionDays },
        ),
      );
      return carrying;
    }
    postgres ??= createPrismaRepositories(services.prisma);
    if (!mirrorsToCosmos(phase)) return postgres;
    mirrored ??= mirrorRepositories(postgres, createCosmosRepositories(services.cosmos, { markAsMirrorCopies: true }), async (failure) => {
      const due = await recordPendingSync(services.prisma, failure, safeErrorMessage(failure.error, secretsOf(services.config)));
      await requestPendingSyncRetry(services, due);
    });
    return mirrored;
  };
  return phaseRoutedRepositories(phaseReaderOf(services), forPhase);
}

/**
 * The Nostria service's seven repositories (docs/service-repositories.md) on the repositories the phase
 * selects: their writes go exactly where {@link createRepositories}'s go, mirrored the same way.
 */
export function createServiceRepositoriesFor(services: AppContext, options?: ServiceRepositoryOptions): ServiceRepositories {
  return createServiceRepositories(createRepositories(services), options);
}

/** The process's service repositories, built once per set of services (they route every call by the phase). */
let built: { services: AppContext; repositories: ServiceRepositories } | undefined;

function service(): ServiceRepositories {
  const services = getServices();
  if (built?.services !== services) built = { services, repositories: createServiceRepositoriesFor(services) };
  return built.repositories;
}

/**
 * The migration guide's entry point: the service's repositories, the generic per-type repositories the migration
 * tooling uses, and health checks. Every call is routed by the phase (`migrate:switch`, or the settings'
 * USE_POSTGRESQL/DUAL_DATABASE_MODE where no switch was recorded), read at most once a second; the clients behind
 * them are created once, on first use.
 */
const RepositoryFactory = {
  /**
   * The generic repositories of all seven types (getById, listByPubkey, find, count, create, update, upsert, delete, ...),
   * as the migration tooling uses them.
   */
  getRepositories: (): Repositories => createRepositories(getServices()),
  getAccountRepository: (): AccountRepository => service().account,
  /** Account settings (documents typed `account-settings` or the older `user-settings`). */
  getUserSettingsRepository: (): UserSettingsRepository => service().userSettings,
  getBackupJobRepository: (): BackupJobRepository => service().backupJob,
  getPaymentRepository: (): PaymentRepository => service().payment,
  getNotificationSubscriptionRepository: (): NotificationSubscriptionRepository => service().notificationSubscription,
  getNotificationSettingsRepository: (): NotificationSettingsRepository => service().notificationSettings,
  getNotificationLogRepository: (): NotificationLogRepository => service().notificationLog,
  checkCosmosHealth: (options?: HealthCheckOptions) => checkCosmosHealth(getServices(), options),
  checkPostgresHealth: (options?: HealthCheckOptions) => checkPostgresHealth(getServices(), options),
  /** Closes the database clients the factory opened (a process that wants to exit cleanly calls it last). */
  disconnect: (): Promise<void> => closeServices(),
};

export default RepositoryFactory;
