import { safeErrorMessage } from '../core/safe-error.js';
import type { DocumentType } from '../domain/document-types.js';
import type { DocumentRepository, Repositories } from '../domain/repository-contract.js';

/** A mirror write that failed: which document, and why. */
export interface MirrorFailure {
  type: DocumentType;
  pubkey: string;
  id: string;
  error: unknown;
}

/** Makes a failed mirror write durable (dual mode records it in `pending_sync`). */
export type MirrorFailureHandler = (failure: MirrorFailure) => Promise<void>;

/**
 * `primary` with every write copied to `mirror` after the primary write succeeded. Reads go to the
 * primary only. A mirror write that fails never fails the caller's write: it goes to `onFailure`,
 * and if even that fails it is logged, because the caller's data is already safe in the primary.
 * Creates and updates are copied as upserts, so a mirror that is behind (or ahead) converges.
 */
export function mirrorWrites<T extends DocumentType, R extends DocumentRepository<T>>(
  primary: R,
  mirror: DocumentRepository<T>,
  onFailure: MirrorFailureHandler,
): R {
  const copy = async (pubkey: string, id: string, write: () => Promise<unknown>): Promise<void> => {
    try {
      await write();
    } catch (error) {
      try {
        await onFailure({ type: primary.type, pubkey, id, error });
      } catch (recordError) {
        console.warn(
          `dual database mode: ${primary.type} ${id} was not copied to the mirror and could not be queued for retry: ${safeErrorMessage(recordError)}`,
        );
      }
    }
  };

  return {
    ...primary,
    async create(document) {
      const written = await primary.create(document);
      await copy(written.pubkey, written.id, () => mirror.upsert(written));
      return written;
    },
    async update(document) {
      const written = await primary.update(document);
      await copy(written.pubkey, written.id, () => mirror.upsert(written));
      return written;
    },
    async upsert(document) {
      const written = await primary.upsert(document);
      await copy(written.pubkey, written.id, () => mirror.upsert(written));
      return written;
    },
    async delete(id, pubkey) {
      const deleted = await primary.delete(id, pubkey);
      // Even when the primary had nothing to delete, the mirror may still hold a copy.
      await copy(pubkey, id, () => mirror.delete(id, pubkey));
      return deleted;
    },
  };
}

/** `mirrorWrites` for all seven repositories. */
export function mirrorRepositories(primary: Repositories, mirror: Repositories, onFailure: MirrorFailureHandler): Repositories {
  return {
    account: mirrorWrites(primary.account, mirror.account, onFailure),
    'account-settings': mirrorWrites(primary['account-settings'], mirror['account-settings'], onFailure),
    'backup-job': mirrorWrites(primary['backup-job'], mirror['backup-job'], onFailure),
    payment: mirrorWrites(primary.payment, mirror.payment, onFailure),
    'notification-subscription': mirrorWrites(primary['notification-subscription'], mirror['notification-subscription'], onFailure),
    'notification-settings': mirrorWrites(primary['notification-settings'], mirror['notification-settings'], onFailure),
    'notification-log': mirrorWrites(primary['notification-log'], mirror['notification-log'], onFailure),
  };
}
