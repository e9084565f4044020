/**
 * The package entry `nostria-migrate/repositories`: what the Nostria service imports to run on Cosmos DB or
 * PostgreSQL by settings alone (README, "The service's repositories"). Nothing of the Functions app or the
 * command line is reachable from here; `npm run build` checks that when it builds the entry.
 */
export {
  DocumentConflictError,
  DocumentNotFoundError,
  DocumentValidationError,
  InvalidInputError,
  SwitchInProgressError,
} from '../core/errors.js';
export type {
  AccountDocument,
  AccountSettingsDocument,
  BackupJobDocument,
  NotificationLogDocument,
  NotificationSettingsDocument,
  NotificationSubscriptionDocument,
  PaymentDocument,
} from '../domain/document-types.js';
export type {
  AccountDocumentRepository,
  DocumentQuery,
  DocumentRepository,
  PerUserRepository,
  QueryCondition,
  Repositories,
} from '../domain/repository-contract.js';
export type {
  AccountInput,
  AccountRepository,
  BackupJobInput,
  BackupJobRepository,
  BackupJobStatus,
  DefaultUserSettings,
  NotificationLogInput,
  NotificationLogRepository,
  NotificationSettingsInput,
  NotificationSettingsRepository,
  NotificationSubscriptionRepository,
  PaymentInput,
  PaymentRepository,
  PushSubscriptionInput,
  ReleaseChannel,
  ServiceRepositories,
  UserSettingsInput,
  UserSettingsRepository,
} from '../domain/service-repositories.js';
export type { HealthCheckOptions, HealthStatus } from './health-check.js';
export { default, default as RepositoryFactory } from './repository-factory.js';
