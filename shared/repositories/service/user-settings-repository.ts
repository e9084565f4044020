import { DocumentValidationError } from '../../core/errors.js';
import { perUserId } from '../../domain/document-ids.js';
import type { AccountSettingsDocument } from '../../domain/document-types.js';
import type { PerUserRepository } from '../../domain/repository-contract.js';
import type { DefaultUserSettings, ReleaseChannel, UserSettingsInput, UserSettingsRepository } from '../../domain/service-repositories.js';
import { givenFields, type ServiceClock } from './service-clock.js';

const releaseChannels: readonly ReleaseChannel[] = ['stable', 'beta', 'alpha'];

/** Checks a release channel; the message names the field, never the value (it sits beside OAuth secrets). */
function checkReleaseChannel(channel: unknown): void {
  if (!releaseChannels.includes(channel as ReleaseChannel)) {
    throw new DocumentValidationError(`account-settings: releaseChannel: expected one of ${releaseChannels.join(', ')}`);
  }
}

/** The service's account-settings repository, on the generic one (see docs/service-repositories.md). */
export function userSettingsRepository(settings: PerUserRepository<'account-settings'>, { now }: ServiceClock): UserSettingsRepository {
  const defaults = (): DefaultUserSettings => ({ releaseChannel: 'stable', socialSharing: true });

  const upsert = async (pubkey: string, input: UserSettingsInput): Promise<AccountSettingsDocument> => {
    const given = givenFields(input);
    if (given.releaseChannel !== undefined) checkReleaseChannel(given.releaseChannel);
    const stored = await settings.getByPubkey(pubkey);
    // Written under the usual id and type: an older `user-settings` document is replaced by this one.
    return settings.upsert({
      ...defaults(),
      ...stored,
      ...given,
      id: perUserId('account-settings', pubkey),
      pubkey,
      type: 'account-settings',
      created: stored?.created ?? now(),
    });
  };

  return {
    upsertUserSettings: upsert,
    getUserSettings: (pubkey) => settings.getByPubkey(pubkey),
    updateUserSettings: upsert,
    async deleteUserSettings(pubkey) {
      await settings.deleteByPubkey(pubkey);
    },
    getDefaultSettings: defaults,
    // Both document types (the original queried the older `user-settings` only); no channel means the default.
    async getUsersByReleaseChannel(channel) {
      checkReleaseChannel(channel);
      return await settings.pubkeysOf({
        where: [{ field: 'releaseChannel', equals: channel, orAbsent: channel === defaults().releaseChannel }],
      });
    },
  };
}
