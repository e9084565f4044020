import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { createCosmosRepositories } from '../cosmos/cosmos-repository.js';
import type { Repositories } from '../domain/repository-contract.js';
import { recordPendingSync } from '../mirror/pending-sync.js';
import { requestPendingSyncRetry } from '../mirror/pending-sync-retry.js';
import { createPrismaRepositories } from '../postgres/prisma-repository.js';
import { getServices } from '../runtime/services.js';
import { checkCosmosHealth, checkPostgresHealth, type HealthCheckOptions } from './health-check.js';
import { mirrorRepositories } from './mirror-writes.js';

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

function repositories(): Repositories {
  return createRepositories(getServices());
}

/** The migration guide's entry point: repositories for the configured database, and health checks. */
const RepositoryFactory = {
  getRepositories: repositories,
  getAccountRepository: () => repositories().account,
  /** Account settings (documents typed `account-settings` or the older `user-settings`). */
  getUserSettingsRepository: () => repositories()['account-settings'],
  getBackupJobRepository: () => repositories()['backup-job'],
  getPaymentRepository: () => repositories().payment,
  getNotificationSubscriptionRepository: () => repositories()['notification-subscription'],
  getNotificationSettingsRepository: () => repositories()['notification-settings'],
  getNotificationLogRepository: () => repositories()['notification-log'],
  checkCosmosHealth: (options?: HealthCheckOptions) => checkCosmosHealth(getServices(), options),
  checkPostgresHealth: (options?: HealthCheckOptions) => checkPostgresHealth(getServices(), options),
};

export default RepositoryFactory;
