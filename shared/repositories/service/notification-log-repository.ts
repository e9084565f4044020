import { creationOrder } from '../../domain/document-query.js';
import type { DocumentRepository } from '../../domain/repository-contract.js';
import type { NotificationLogRepository } from '../../domain/service-repositories.js';
import { givenFields, type ServiceClock } from './service-clock.js';

const dayMs = 24 * 60 * 60 * 1000;

/** The service's notification-log repository, on the generic one (see docs/service-repositories.md). */
export function notificationLogRepository(
  logs: DocumentRepository<'notification-log'>,
  { now, randomToken }: ServiceClock,
): NotificationLogRepository {
  return {
    logNotification(pubkey, { timestamp, ...text }) {
      const at = now();
      return logs.create({
        ...givenFields({ title: text.title, body: text.body, content: text.content, template: text.template }),
        id: `${pubkey}-${at}-${randomToken()}`,
        pubkey,
        type: 'notification-log',
        created: at,
        modified: timestamp ?? at,
      });
    },

    // On `created`, which every log has (the original filtered on a field never written, and counted 0).
    get24HourNotificationCount: (pubkey) => logs.count({ pubkey, where: [{ field: 'created', atLeast: now() - dayMs }] }),

    getUserNotificationHistory: (pubkey, limit = 50) => logs.find({ pubkey, orderBy: creationOrder('notification-log', 'desc'), limit }),
  };
}
