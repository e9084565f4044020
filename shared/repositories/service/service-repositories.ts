import type { Repositories } from '../../domain/repository-contract.js';
import type { ServiceRepositories } from '../../domain/service-repositories.js';
import { accountRepository } from './account-repository.js';
import { backupJobRepository } from './backup-job-repository.js';
import { notificationLogRepository } from './notification-log-repository.js';
import { notificationSettingsRepository } from './notification-settings-repository.js';
import { notificationSubscriptionRepository } from './notification-subscription-repository.js';
import { paymentRepository } from './payment-repository.js';
import { type ServiceRepositoryOptions, serviceClock } from './service-clock.js';
import { userSettingsRepository } from './user-settings-repository.js';

/**
 * The Nostria service's seven repositories, built on the generic ones: every read and write goes through
 * `repositories`, so whatever those are (Cosmos, PostgreSQL, or PostgreSQL mirrored to Cosmos in dual mode)
 * these behave the same and their writes are mirrored the same way. Nothing here touches a database itself.
 */
export function createServiceRepositories(repositories: Repositories, options: ServiceRepositoryOptions = {}): ServiceRepositories {
  const clock = serviceClock(options);
  return {
    account: accountRepository(repositories.account, clock),
    userSettings: userSettingsRepository(repositories['account-settings'], clock),
    backupJob: backupJobRepository(repositories['backup-job'], clock),
    payment: paymentRepository(repositories.payment, clock),
    notificationSubscription: notificationSubscriptionRepository(repositories['notification-subscription'], clock),
    notificationSettings: notificationSettingsRepository(repositories['notification-settings'], clock),
    notificationLog: notificationLogRepository(repositories['notification-log'], clock),
  };
}
