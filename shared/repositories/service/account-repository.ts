import { DocumentNotFoundError } from '../../core/errors.js';
import { perUserId } from '../../domain/document-ids.js';
import { creationOrder } from '../../domain/document-query.js';
import type { AccountDocument } from '../../domain/document-types.js';
import type { AccountDocumentRepository } from '../../domain/repository-contract.js';
import type { AccountInput, AccountRepository } from '../../domain/service-repositories.js';
import type { ServiceClock } from './service-clock.js';

const premiumTiers: ReadonlySet<string> = new Set(['premium', 'premium_plus']);

/** The service's account repository, on the generic one (see docs/service-repositories.md). */
export function accountRepository(accounts: AccountDocumentRepository, { now }: ServiceClock): AccountRepository {
  const asAccount = (account: AccountInput, id: string): AccountDocument => ({ ...account, id, type: 'account' });

  return {
    // An upsert: one document per user, so an account stored under another id (an older form) is replaced.
    create: (account) => accounts.upsert(asAccount(account, account.id ?? perUserId('account', account.pubkey))),

    async isUsernameTaken(username, excludePubkey) {
      const [holder] = await accounts.find({
        exceptPubkey: excludePubkey,
        where: [{ field: 'username', equals: username, ignoreCase: true }],
        limit: 1,
      });
      return holder !== undefined;
    },

    getByPubkey: (pubkey) => accounts.getByPubkey(pubkey),
    getByUsername: (username) => accounts.getByUsername(username),

    async update(account) {
      // Found by pubkey, so an account stored under an older id is updated in place, keeping that id.
      const stored = await accounts.getByPubkey(account.pubkey);
      if (!stored) throw new DocumentNotFoundError('account', account.id ?? perUserId('account', account.pubkey));
      return accounts.update({ ...asAccount(account, stored.id), modified: now() });
    },

    async updateLoginDate(pubkey) {
      const stored = await accounts.getByPubkey(pubkey);
      if (!stored) return;
      const at = now();
      await accounts.update({ ...stored, lastLoginDate: at, modified: at });
    },

    getAllAccounts: (limit = 100) => accounts.find({ orderBy: creationOrder('account', 'desc'), limit }),

    // Every copy, whatever its id (the original deleted by the wrong id and silently did nothing).
    async deleteAccount(pubkey) {
      await accounts.deleteByPubkey(pubkey);
    },

    async hasPremiumSubscription(pubkey) {
      const account = await accounts.getByPubkey(pubkey);
      if (!account || !premiumTiers.has(account.tier)) return false;
      return account.expires === undefined || account.expires === null || account.expires > now();
    },
  };
}
