import { DocumentValidationError } from '../../core/errors.js';
import { subscriptionId } from '../../domain/document-ids.js';
import type { NotificationSubscriptionDocument } from '../../domain/document-types.js';
import type { DocumentRepository } from '../../domain/repository-contract.js';
import type { NotificationSubscriptionRepository } from '../../domain/service-repositories.js';
import type { ServiceClock } from './service-clock.js';

/** The service's push-subscription repository, on the generic one (see docs/service-repositories.md). */
export function notificationSubscriptionRepository(
  subscriptions: DocumentRepository<'notification-subscription'>,
  { now }: ServiceClock,
): NotificationSubscriptionRepository {
  /** The device's subscriptions: the usual id, and any older document naming the same device key. */
  const ofDevice = (pubkey: string, deviceKey: string): Promise<NotificationSubscriptionDocument[]> =>
    subscriptions.find({ pubkey, where: [{ field: 'deviceKey', equals: deviceKey }] });

  return {
    async createSubscription(pubkey, subscription) {
      const deviceKey: unknown = (subscription as { keys?: { p256dh?: unknown } } | undefined)?.keys?.p256dh;
      if (typeof deviceKey !== 'string' || deviceKey === '') {
        throw new DocumentValidationError(
          'notification-subscription: subscription.keys.p256dh: expected the device key (a non-empty string)',
        );
      }
      const at = now();
      const id = subscriptionId(pubkey, deviceKey);
      const written = await subscriptions.upsert({
        id,
        pubkey,
        type: 'notification-subscription',
        subscription: subscription as NotificationSubscriptionDocument['subscription'],
        deviceKey,
        created: at,
        modified: at,
      });
      // One subscription per device: an older document of the same device under another id would list it twice.
      for (const other of await ofDevice(pubkey, deviceKey)) {
        if (other.id !== id) await subscriptions.delete(other.id, pubkey);
      }
      return written;
    },

    getUserSubscriptions: (pubkey) => subscriptions.listByPubkey(pubkey),

    async getSubscriptionByDeviceKey(pubkey, deviceKey) {
      const found = await ofDevice(pubkey, deviceKey);
      return found.find((candidate) => candidate.id === subscriptionId(pubkey, deviceKey)) ?? found[0] ?? null;
    },

    async deleteSubscription(pubkey, deviceKey) {
      for (const found of await ofDevice(pubkey, deviceKey)) await subscriptions.delete(found.id, pubkey);
    },

    // The original always answered [].
    getAllUserPubkeys: () => subscriptions.pubkeysOf({}),
    getAllSubscriptions: (limit = 100) => subscriptions.find({ limit }),
  };
}
