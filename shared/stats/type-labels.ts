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

/** `2d 3h`, `1h 5m`, `3m 20s`, `12s`: an age for people, its two largest units. */
export function formatAge(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const days = Math.floor(whole / 86_400);
  const hours = Math.floor((whole % 86_400) / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${whole % 60}s`;
  return `${whole}s`;
}
