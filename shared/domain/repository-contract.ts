import type { DocumentsByType, DocumentType } from './document-types.js';

/**
 * What the Nostria service does with one document type, the same whichever database is behind it.
 * Results have the Cosmos document shape (`type` included, system properties left out), so code
 * written against the Cosmos repositories keeps working with `USE_POSTGRESQL=true`.
 * Input documents are validated with the type's zod schema; a bad one is a `DocumentValidationError`.
 */
export interface DocumentRepository<T extends DocumentType = DocumentType> {
  readonly type: T;
  getById(id: string, pubkey: string): Promise<DocumentsByType[T] | null>;
  /**
   * All of one user's documents of this type (a user's payments, backup jobs, devices, logs), oldest
   * first by `created` (`requested` for backup jobs; see `creation-field.ts`).
   */
  listByPubkey(pubkey: string): Promise<DocumentsByType[T][]>;
  /** Fails with `DocumentConflictError` if a document with this id already exists for this pubkey. */
  create(document: DocumentsByType[T]): Promise<DocumentsByType[T]>;
  /** Fails with `DocumentNotFoundError` if there is nothing to update. */
  update(document: DocumentsByType[T]): Promise<DocumentsByType[T]>;
  upsert(document: DocumentsByType[T]): Promise<DocumentsByType[T]>;
  /** True if a document was deleted. */
  delete(id: string, pubkey: string): Promise<boolean>;
  count(): Promise<number>;
}

/** Types with at most one document per user: accounts, account settings, notification settings. */
export interface PerUserRepository<T extends DocumentType> extends DocumentRepository<T> {
  /** The user's document, whether it has the usual id `{type}-{pubkey}` or an older one. */
  getByPubkey(pubkey: string): Promise<DocumentsByType[T] | null>;
}

export interface AccountRepository extends PerUserRepository<'account'> {
  /** Usernames are unique ignoring case by the service's rules, not by the source's; the oldest wins. */
  getByUsername(username: string): Promise<DocumentsByType['account'] | null>;
}

export interface Repositories {
  account: AccountRepository;
  'account-settings': PerUserRepository<'account-settings'>;
  'backup-job': DocumentRepository<'backup-job'>;
  payment: DocumentRepository<'payment'>;
  'notification-subscription': DocumentRepository<'notification-subscription'>;
  'notification-settings': PerUserRepository<'notification-settings'>;
  'notification-log': DocumentRepository<'notification-log'>;
}
