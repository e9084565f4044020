import type {
  AccountDocument,
  AccountSettingsDocument,
  BackupJobDocument,
  NotificationLogDocument,
  NotificationSettingsDocument,
  NotificationSubscriptionDocument,
  PaymentDocument,
} from './document-types.js';

/**
 * The repositories the Nostria service calls, method for method (docs/service-repositories.md lists them
 * with the behaviour the service relies on). `RepositoryFactory.getAccountRepository()` and its siblings hand
 * out these, the same on Cosmos DB and on PostgreSQL. Timestamps are milliseconds since the epoch; "now" is
 * the repositories' clock. Documents come back in the Cosmos shape, `type` included, system properties left out.
 * Where the service's original code had a bug, these follow the intended behaviour.
 */

/**
 * `D` without the keys `K`. Not `Omit`: the documents keep fields their schema does not name (an index
 * signature), and `Omit` over an index signature loses the named fields; key remapping keeps them.
 */
type Without<D, K extends string> = { [P in keyof D as P extends K ? never : P]: D[P] };

/** A document as the service hands it in: `type` is set by the repository whatever it says. */
type Input<D> = Without<D, 'type'> & { type?: string };

/** An account to store; without an id it gets the usual `account-<pubkey>`. */
export type AccountInput = Without<AccountDocument, 'type' | 'id'> & { type?: string; id?: string };
export type BackupJobInput = Input<BackupJobDocument>;
export type PaymentInput = Input<PaymentDocument>;

export interface AccountRepository {
  /** Stores the account; an existing account of the same pubkey (whatever its id) is replaced. */
  create(account: AccountInput): Promise<AccountDocument>;
  /** Whether another account (not `excludePubkey`'s) has this username, ignoring case. */
  isUsernameTaken(username: string, excludePubkey?: string): Promise<boolean>;
  getByPubkey(pubkey: string): Promise<AccountDocument | null>;
  /** The account with this username ignoring case (the oldest, should two differ only in case). */
  getByUsername(username: string): Promise<AccountDocument | null>;
  /** Replaces the stored account, `modified` set to now; `DocumentNotFoundError` if the pubkey has none. */
  update(account: AccountInput): Promise<AccountDocument>;
  /** Sets `lastLoginDate` and `modified` to now; nothing if the pubkey has no account. */
  updateLoginDate(pubkey: string): Promise<void>;
  /** Newest first by `created`, at most `limit` (default 100). */
  getAllAccounts(limit?: number): Promise<AccountDocument[]>;
  /** Removes the account, whatever its id. */
  deleteAccount(pubkey: string): Promise<void>;
  /** Tier `premium` or `premium_plus`, and `expires` absent or in the future. */
  hasPremiumSubscription(pubkey: string): Promise<boolean>;
}

export type ReleaseChannel = 'stable' | 'beta' | 'alpha';

/** The settings fields a caller may give; a field given as `undefined` is not given. */
export type UserSettingsInput = Partial<
  Pick<
    AccountSettingsDocument,
    | 'releaseChannel'
    | 'socialSharing'
    | 'xUserId'
    | 'xUsername'
    | 'xAccessToken'
    | 'xAccessSecret'
    | 'xRequestToken'
    | 'xRequestSecret'
    | 'xRequestCreated'
  >
>;

export interface DefaultUserSettings {
  releaseChannel: 'stable';
  socialSharing: true;
}

export interface UserSettingsRepository {
  /**
   * Creates or updates: fields not given keep their stored value, or the defaults; `created` is kept from
   * the stored version. A release channel other than stable, beta, alpha is a `DocumentValidationError`.
   */
  upsertUserSettings(pubkey: string, settings: UserSettingsInput): Promise<AccountSettingsDocument>;
  /** The settings (older `user-settings` documents included) or null. */
  getUserSettings(pubkey: string): Promise<AccountSettingsDocument | null>;
  /** As {@link UserSettingsRepository.upsertUserSettings}: creates the settings when there are none. */
  updateUserSettings(pubkey: string, updates: UserSettingsInput): Promise<AccountSettingsDocument>;
  deleteUserSettings(pubkey: string): Promise<void>;
  getDefaultSettings(): DefaultUserSettings;
  /** Pubkeys whose settings are on that channel; settings that name none are on the default, `stable`. */
  getUsersByReleaseChannel(channel: ReleaseChannel): Promise<string[]>;
}

export type BackupJobStatus = BackupJobDocument['status'];

export interface BackupJobRepository {
  /** `DocumentConflictError` if the user already has a job with this id. */
  createBackupJob(job: BackupJobInput): Promise<BackupJobDocument>;
  getBackupJob(id: string, pubkey: string): Promise<BackupJobDocument | null>;
  /** Newest first by `requested`, at most `limit` (default 50). */
  getUserBackupJobs(pubkey: string, limit?: number): Promise<BackupJobDocument[]>;
  /**
   * Merges `updates` and sets `status`; `started` becomes now when the status becomes `in_progress`, and
   * `completed` now when it becomes `completed` or `failed`, unless `updates` gives them. `DocumentNotFoundError`
   * if there is no such job.
   */
  updateBackupJobStatus(
    id: string,
    pubkey: string,
    status: BackupJobStatus,
    updates?: Partial<BackupJobDocument>,
  ): Promise<BackupJobDocument>;
  /** No error if there is none. */
  deleteBackupJob(id: string, pubkey: string): Promise<void>;
  /** Status `pending`, `scheduled` absent or not in the future; oldest `requested` first, at most `limit` (default 100). */
  getPendingBackupJobs(limit?: number): Promise<BackupJobDocument[]>;
}

export interface PaymentRepository {
  /** `DocumentConflictError` if the payment exists. */
  create(payment: PaymentInput): Promise<PaymentDocument>;
  /** Replaces the payment, `modified` set to now; `DocumentNotFoundError` if there is none. */
  update(payment: PaymentInput): Promise<PaymentDocument>;
  get(id: string, pubkey: string): Promise<PaymentDocument | null>;
  /** Newest first by `created`, at most `limit` (default 100). */
  getAllPayments(limit?: number): Promise<PaymentDocument[]>;
}

/** A browser's push subscription, as the Push API gives it. */
export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  userAgent?: string;
  [field: string]: unknown;
}

export interface NotificationSubscriptionRepository {
  /** Stores the device's subscription (`deviceKey` = `keys.p256dh`), replacing the one it had; `created`/`modified` now. */
  createSubscription(pubkey: string, subscription: PushSubscriptionInput): Promise<NotificationSubscriptionDocument>;
  getUserSubscriptions(pubkey: string): Promise<NotificationSubscriptionDocument[]>;
  getSubscriptionByDeviceKey(pubkey: string, deviceKey: string): Promise<NotificationSubscriptionDocument | null>;
  /** No error if there is none. */
  deleteSubscription(pubkey: string, deviceKey: string): Promise<void>;
  /** Distinct pubkeys with at least one subscription, sorted. */
  getAllUserPubkeys(): Promise<string[]>;
  /** At most `limit` (default 100). */
  getAllSubscriptions(limit?: number): Promise<NotificationSubscriptionDocument[]>;
}

/** Notification settings as the service hands them in; other properties are kept as given. */
export interface NotificationSettingsInput {
  enabled?: boolean;
  /** Any JSON. */
  filters?: NotificationSettingsDocument['filters'];
  /** Any JSON. */
  settings?: NotificationSettingsDocument['settings'];
  [field: string]: unknown;
}

export interface NotificationSettingsRepository {
  /**
   * Creates or replaces: `enabled` defaults to true, `filters` and `settings` as given, other given properties
   * kept, `created` kept from the stored version, `updated` and `modified` now.
   */
  upsertSettings(pubkey: string, data: NotificationSettingsInput): Promise<NotificationSettingsDocument>;
  getSettings(pubkey: string): Promise<NotificationSettingsDocument | null>;
  deleteSettings(pubkey: string): Promise<void>;
  /** At most `limit` (default 100). */
  getAllSettings(limit?: number): Promise<NotificationSettingsDocument[]>;
}

export interface NotificationLogInput {
  title?: string;
  body?: string;
  content?: string;
  template?: string;
  /** Becomes `modified`; now when absent. */
  timestamp?: number;
}

export interface NotificationLogRepository {
  /** Stores a log entry with id `<pubkey>-<now>-<random>`, `created` now. */
  logNotification(pubkey: string, notification: NotificationLogInput): Promise<NotificationLogDocument>;
  /** How many of the user's logs were created in the last 24 hours (`created` ≥ now − 24 h). */
  get24HourNotificationCount(pubkey: string): Promise<number>;
  /** Newest first by `created`, at most `limit` (default 50). */
  getUserNotificationHistory(pubkey: string, limit?: number): Promise<NotificationLogDocument[]>;
}

/** The seven, as `RepositoryFactory` hands them out. */
export interface ServiceRepositories {
  account: AccountRepository;
  userSettings: UserSettingsRepository;
  backupJob: BackupJobRepository;
  payment: PaymentRepository;
  notificationSubscription: NotificationSubscriptionRepository;
  notificationSettings: NotificationSettingsRepository;
  notificationLog: NotificationLogRepository;
}
