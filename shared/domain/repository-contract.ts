import type { DocumentsByType, DocumentType, documentTypes } from './document-types.js';

/**
 * A modeled field of type `T` (a column on PostgreSQL, an indexed path on Cosmos) that queries may use: a field
 * its schema names, other than the keys (the pubkey is a query's own `pubkey`).
 */
export type QueryField<T extends DocumentType> = Exclude<
  Extract<keyof (typeof documentTypes)[T]['schema']['shape'], string>,
  'id' | 'pubkey' | 'type'
>;

/**
 * One condition of a {@link DocumentQuery}. `orAbsent` also matches documents where the field is missing or
 * null (SQL NULL on PostgreSQL), so "not scheduled, or scheduled by now" is one condition.
 */
export type QueryCondition<T extends DocumentType> =
  | { field: QueryField<T>; equals: string | number | boolean; ignoreCase?: boolean; orAbsent?: boolean }
  | { field: QueryField<T>; atMost: number; orAbsent?: boolean }
  | { field: QueryField<T>; atLeast: number };

/**
 * What to find among the documents of one type. Both implementations compile it to one statement: a
 * single-partition query on Cosmos when `pubkey` is given (cross-partition otherwise), one parameterised
 * SELECT on the type's table on PostgreSQL. Field names come from the type's descriptor, never from input.
 */
export interface DocumentQuery<T extends DocumentType> {
  /** Only this user's documents. */
  pubkey?: string;
  /** Every user's documents but this one's. */
  exceptPubkey?: string;
  /** All must hold. */
  where?: readonly QueryCondition<T>[];
  /** Without it the order is whatever the database finds cheapest. */
  orderBy?: { field: QueryField<T>; direction: 'asc' | 'desc' };
  /** At most this many (a whole number, 0 or more). */
  limit?: number;
}

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
  /** The documents the query selects, in its order. */
  find(query: DocumentQuery<T>): Promise<DocumentsByType[T][]>;
  /** How many documents the query selects (its `orderBy` and `limit` are ignored); all of this type without one. */
  count(query?: DocumentQuery<T>): Promise<number>;
  /** The distinct pubkeys of the documents the query selects, sorted (its `orderBy` and `limit` are ignored). */
  pubkeysOf(query: DocumentQuery<T>): Promise<string[]>;
  /** Fails with `DocumentConflictError` if a document with this id already exists for this pubkey. */
  create(document: DocumentsByType[T]): Promise<DocumentsByType[T]>;
  /** Fails with `DocumentNotFoundError` if there is nothing to update. */
  update(document: DocumentsByType[T]): Promise<DocumentsByType[T]>;
  upsert(document: DocumentsByType[T]): Promise<DocumentsByType[T]>;
  /** True if a document was deleted. */
  delete(id: string, pubkey: string): Promise<boolean>;
}

/**
 * Types with at most one document per user: accounts, account settings, notification settings.
 * PostgreSQL keeps one row per pubkey whatever its id; on Cosmos older documents may carry other ids
 * (`user-settings-<pubkey>`, an account whose id is its pubkey), so `upsert` also removes the user's other
 * documents of the type there: both databases then hold the one document just written.
 */
export interface PerUserRepository<T extends DocumentType> extends DocumentRepository<T> {
  /** The user's document, whether it has the usual id `{type}-{pubkey}` or an older one. */
  getByPubkey(pubkey: string): Promise<DocumentsByType[T] | null>;
  /** Removes every document of this type the user has, whatever its id; returns the ids removed. */
  deleteByPubkey(pubkey: string): Promise<string[]>;
}

export interface AccountDocumentRepository extends PerUserRepository<'account'> {
  /** Usernames are unique ignoring case by the service's rules, not by the source's; the oldest wins. */
  getByUsername(username: string): Promise<DocumentsByType['account'] | null>;
}

export interface Repositories {
  account: AccountDocumentRepository;
  'account-settings': PerUserRepository<'account-settings'>;
  'backup-job': DocumentRepository<'backup-job'>;
  payment: DocumentRepository<'payment'>;
  'notification-subscription': DocumentRepository<'notification-subscription'>;
  'notification-settings': PerUserRepository<'notification-settings'>;
  'notification-log': DocumentRepository<'notification-log'>;
}
