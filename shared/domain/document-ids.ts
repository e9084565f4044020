/** The types with one document per user, whose ids the service derives from the pubkey. */
export type PerUserType = 'account' | 'account-settings' | 'notification-settings';

/** The id the service gives a user's one document of a per-user type: `{type}-{pubkey}`. */
export function perUserId(type: PerUserType, pubkey: string): string {
  return `${type}-${pubkey}`;
}

/**
 * Every id a user's document of a per-user type has been known to carry: the usual one, then older forms
 * (settings written as `user-settings-<pubkey>`; accounts the service's first PostgreSQL code wrote with
 * `id = pubkey`). A delete that must reach every copy in Cosmos, but cannot list them there, names these.
 */
export function knownPerUserIds(type: PerUserType, pubkey: string): string[] {
  const legacy: Record<PerUserType, string[]> = {
    account: [pubkey],
    'account-settings': [`user-settings-${pubkey}`],
    'notification-settings': [],
  };
  return [perUserId(type, pubkey), ...legacy[type]];
}

/** The id of a device's push subscription: `notification-subscription-{pubkey}-{deviceKey}`. */
export function subscriptionId(pubkey: string, deviceKey: string): string {
  return `notification-subscription-${pubkey}-${deviceKey}`;
}
