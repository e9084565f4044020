import type { DocumentType } from '../domain/document-types.js';

/** What people call each document type in reports, in the guide's style ("Accounts", "Backup Jobs"). */
export const typeLabels: Record<DocumentType, string> = {
  account: 'Accounts',
  'account-settings': 'Account Settings',
  'backup-job': 'Backup Jobs',
  payment: 'Payments',
  'notification-subscription': 'Notification Subscriptions',
  'notification-settings': 'Notification Settings',
  'notification-log': 'Notification Logs',
};

/** `1,523`: grouped the way the guide prints counts, whatever the machine's locale. */
export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}
