import { perUserId } from '../../domain/document-ids.js';
import type { PerUserRepository } from '../../domain/repository-contract.js';
import type { NotificationSettingsRepository } from '../../domain/service-repositories.js';
import { givenFields, type ServiceClock } from './service-clock.js';

/** The service's notification-settings repository, on the generic one (see docs/service-repositories.md). */
export function notificationSettingsRepository(
  settings: PerUserRepository<'notification-settings'>,
  { now }: ServiceClock,
): NotificationSettingsRepository {
  return {
    async upsertSettings(pubkey, data) {
      const stored = await settings.getByPubkey(pubkey);
      const given = givenFields(data);
      const at = now();
      // A replacement, not a merge: what is not given (filters, settings) is not kept; only `created` is.
      return settings.upsert({
        ...given,
        id: perUserId('notification-settings', pubkey),
        pubkey,
        type: 'notification-settings',
        enabled: given.enabled ?? true,
        created: stored?.created ?? at,
        updated: at,
        modified: at,
      });
    },
    getSettings: (pubkey) => settings.getByPubkey(pubkey),
    async deleteSettings(pubkey) {
      await settings.deleteByPubkey(pubkey);
    },
    getAllSettings: (limit = 100) => settings.find({ limit }),
  };
}
