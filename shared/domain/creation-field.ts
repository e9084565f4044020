import type { DocumentType } from './document-types.js';

/**
 * The field that says when a document came to be, per type: listings are oldest first by it.
 * Backup jobs have no `created`; they are stamped when requested.
 */
export const creationField = {
  account: 'created',
  'account-settings': 'created',
  'backup-job': 'requested',
  payment: 'created',
  'notification-subscription': 'created',
  'notification-settings': 'created',
  'notification-log': 'created',
} as const satisfies Record<DocumentType, string>;
