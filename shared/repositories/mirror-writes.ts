import { safeErrorMessage } from '../core/safe-error.js';
import { knownPerUserIds, type PerUserType } from '../domain/document-ids.js';
import type { DocumentType } from '../domain/document-types.js';
import type { AccountDocumentRepository, DocumentRepository, PerUserRepository, Repositories } from '../domain/repository-contract.js';

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
 * primary only. A mirror write that fails never fails the caller's write: each document it concerns goes
 * to `onFailure`, and if even that fails it is logged, because the caller's data is already safe in the
 * primary. Creates and updates are copied as upserts, so a mirror that is behind (or ahead) converges.
 *
 * Every method is listed, none spread from the primary: a write method added to the contract must be
 * placed here as a copied write or a read on purpose, or this does not compile.
 */
export function mirrorWrites<T extends DocumentType>(
  primary: DocumentRepository<T>,
  mirror: DocumentRepository<T>,
  onFailure: MirrorFailureHandler,
): DocumentRepository<T> {
  const copy = mirrorCopy(primary.type, onFailure);
  return {
    type: primary.type,
    getById: (id, pubkey) => primary.getById(id, pubkey),
    listByPubkey: (pubkey) => primary.listByPubkey(pubkey),
    find: (query) => primary.find(query),
    count: (query) => primary.count(query),
    pubkeysOf: (query) => primary.pubkeysOf(query),
    async create(document) {
      const written = await primary.create(document);
      await copy(written.pubkey, [written.id], () => mirror.upsert(written));
      return written;
    },
    async update(document) {
      const written = await primary.update(document);
      await copy(written.pubkey, [written.id], () => mirror.upsert(written));
      return written;
    },
    async upsert(document) {
      const written = await primary.upsert(document);
      await copy(written.pubkey, [written.id], () => mirror.upsert(written));
      return written;
    },
    async delete(id, pubkey) {
      const deleted = await primary.delete(id, pubkey);
      // Even when the primary had nothing to delete, the mirror may still hold a copy.
      await copy(pubkey, [id], () => mirror.delete(id, pubkey));
      return deleted;
    },
  };
}

/**
 * `mirrorWrites` for a type with one document per user. The mirror's `upsert` (Cosmos) also removes the
 * user's copies under older ids, so it ends holding the one document PostgreSQL has. A delete by pubkey
 * reaches every copy in the mirror; if it fails, the retry is recorded for every id the document has been
 * known by (the primary's and the older forms), since the mirror's own ids cannot be listed while it fails.
 */
export function mirrorPerUserWrites<T extends PerUserType>(
  primary: PerUserRepository<T>,
  mirror: PerUserRepository<T>,
  onFailure: MirrorFailureHandler,
): PerUserRepository<T> {
  const copy = mirrorCopy(primary.type, onFailure);
  return {
    ...mirrorWrites(primary, mirror, onFailure),
    getByPubkey: (pubkey) => primary.getByPubkey(pubkey),
    async deleteByPubkey(pubkey) {
      const deleted = await primary.deleteByPubkey(pubkey);
      const ids = [...new Set([...deleted, ...knownPerUserIds(primary.type, pubkey)])];
      await copy(pubkey, ids, () => mirror.deleteByPubkey(pubkey));
      return deleted;
    },
  };
}

function mirrorAccountWrites(
  primary: AccountDocumentRepository,
  mirror: AccountDocumentRepository,
  onFailure: MirrorFailureHandler,
): AccountDocumentRepository {
  return { ...mirrorPerUserWrites(primary, mirror, onFailure), getByUsername: (username) => primary.getByUsername(username) };
}

/** Runs one mirror write; on failure hands each document it concerns to `onFailure`, never throwing. */
function mirrorCopy(type: DocumentType, onFailure: MirrorFailureHandler) {
  return async (pubkey: string, ids: readonly string[], write: () => Promise<unknown>): Promise<void> => {
    try {
      await write();
    } catch (error) {
      for (const id of ids) {
        try {
          await onFailure({ type, pubkey, id, error });
        } catch (recordError) {
          console.warn(
            `dual database mode: ${type} ${id} was not copied to the mirror and could not be queued for retry: ` +
              safeErrorMessage(recordError),
          );
        }
      }
    }
  };
}

/** `mirrorWrites` for all seven repositories. */
export function mirrorRepositories(primary: Repositories, mirror: Repositories, onFailure: MirrorFailureHandler): Repositories {
  return {
    account: mirrorAccountWrites(primary.account, mirror.account, onFailure),
    'account-settings': mirrorPerUserWrites(primary['account-settings'], mirror['account-settings'], onFailure),
    'backup-job': mirrorWrites(primary['backup-job'], mirror['backup-job'], onFailure),
    payment: mirrorWrites(primary.payment, mirror.payment, onFailure),
    'notification-subscription': mirrorWrites(primary['notification-subscription'], mirror['notification-subscription'], onFailure),
    'notification-settings': mirrorPerUserWrites(primary['notification-settings'], mirror['notification-settings'], onFailure),
    'notification-log': mirrorWrites(primary['notification-log'], mirror['notification-log'], onFailure),
  };
}
