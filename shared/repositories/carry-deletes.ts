import { safeErrorMessage } from '../core/safe-error.js';
import type { DocumentType } from '../domain/document-types.js';
import type { AccountDocumentRepository, DocumentRepository, PerUserRepository, Repositories } from '../domain/repository-contract.js';
import type { DeletedDocument } from '../sync/change-feed-items.js';

/** Applies deletes made in Cosmos to PostgreSQL, as the sync applies the deletes it reads (version-guarded, remembered). */
export type DeleteCarrier = (deletes: DeletedDocument[]) => Promise<unknown>;

/**
 * The Cosmos repositories of the Cosmos-primary dual phase, with each delete carried to PostgreSQL right after it
 * succeeded in Cosmos. In LatestVersion mode the change feed never shows a delete, so without this a document
 * the service deleted would live on in PostgreSQL until a reconcile pass, and a switch to PostgreSQL in between
 * would bring it back. The delete goes through the sync's own path (its time is now, this process's clock), so
 * it is ordered against the versions the feed brings like any other. A failure to carry it never fails the
 * caller (the document is gone from Cosmos, the primary); it is logged, and reconcile finds the row.
 */
export function carryDeletes(cosmos: Repositories, carry: DeleteCarrier): Repositories {
  const carried = async (pubkey: string, ids: readonly string[]) => {
    if (ids.length === 0) return;
    const ts = Math.floor(Date.now() / 1000);
    try {
      await carry(ids.map((id) => ({ id, pubkey, ts })));
    } catch (error) {
      console.warn(`a delete in Cosmos DB was not carried to PostgreSQL (reconcile will find it): ${safeErrorMessage(error)}`);
    }
  };
  const documents = <T extends DocumentType>(repository: DocumentRepository<T>): DocumentRepository<T> => ({
    ...repository,
    async delete(id, pubkey) {
      const deleted = await repository.delete(id, pubkey);
      await carried(pubkey, [id]);
      return deleted;
    },
  });
  const perUser = <T extends DocumentType>(repository: PerUserRepository<T>): PerUserRepository<T> => ({
    ...repository,
    ...documents(repository),
    async deleteByPubkey(pubkey) {
      const deleted = await repository.deleteByPubkey(pubkey);
      await carried(pubkey, deleted);
      return deleted;
    },
  });
  const account = (repository: AccountDocumentRepository): AccountDocumentRepository => ({ ...repository, ...perUser(repository) });
  return {
    account: account(cosmos.account),
    'account-settings': perUser(cosmos['account-settings']),
    'backup-job': documents(cosmos['backup-job']),
    payment: documents(cosmos.payment),
    'notification-subscription': documents(cosmos['notification-subscription']),
    'notification-settings': perUser(cosmos['notification-settings']),
    'notification-log': documents(cosmos['notification-log']),
  };
}
