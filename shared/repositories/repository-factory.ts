import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { createCosmosRepositories } from '../cosmos/cosmos-repository.js';
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
import { checkCosmosHealth, checkPostgresHealth, type HealthCheckOptions } from './health-check.js';
import { mirrorRepositories } from './mirror-writes.js';
import type { ServiceRepositoryOptions } from './service/service-clock.js';
import { createServiceRepositories } from './service/service-repositories.js';

/**
 * The repositories the flags select:
 *
 * | USE_POSTGRESQL | DUAL_DATABASE_MODE | reads      | writes                                                   |
 * |----------------|--------------------|------------|----------------------------------------------------------|
 * | false          | false              | Cosmos     | Cosmos                                                   |
 * | false          | true               | Cosmos     | Cosmos; the change-feed sync function copies to PostgreSQL |
 * | true           | false              | PostgreSQL | PostgreSQL                                               |
 * | true           | true               | PostgreSQL | PostgreSQL, then mirrored to Cosmos (failures retried via pending_sync) |
 *
 * With Cosmos primary the writes are not mirrored here because the sync function already carries
 * every Cosmos change to PostgreSQL; with PostgreSQL primary that function skips its batches, so the
 * mirror is the only path back to Cosmos and there is no echo. A failed mirror write is recorded in
 * pending_sync and, when the migration queue is configured, a `pending-sync` message is scheduled for
 * when it is due; the queue function then copies it (`npm run migrate:pending-sync` does it by hand).
 */
export function createRepositories(services: AppContext): Repositories {
  const { config } = services;
  if (!config.usePostgres) return createCosmosRepositories(services.cosmos);
  const primary = createPrismaRepositories(services.prisma);
  if (!config.dualDatabaseMode) return primary;
  return mirrorRepositories(primary, createCosmosRepositories(services.cosmos), async (failure) => {
    const due = await recordPendingSync(services.prisma, failure, safeErrorMessage(failure.error, secretsOf(config)));
    await requestPendingSyncRetry(services, due);
  });
}

/**
 * The Nostria service's seven repositories (docs/service-repositories.md) on the repositories the flags
 * select: their writes go exactly where {@link createRepositories}'s go, mirrored the same way.
 */
export function createServiceRepositoriesFor(services: AppContext, options?: ServiceRepositoryOptions): ServiceRepositories {
  return createServiceRepositories(createRepositories(services), options);
}

function service(): ServiceRepositories {
  return createServiceRepositoriesFor(getServices());
}

/**
 * The migration guide's entry point: the service's repositories for the configured database, the generic
 * per-type repositories the migration tooling uses, and health checks. Each getter reads the flags of the
 * process's settings (`getServices()`); the clients behind them are created once, on first use.
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
