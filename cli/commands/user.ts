import { countDocuments } from '../../shared/cosmos/document-source.js';
import { parsePubkey } from '../cli-options.js';
import type { CliCommand } from '../command.js';
import { commandHelp, interruptedLine } from '../help-text.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';

export const userCommand: CliCommand = {
  name: 'user',
  options: ['batch-size', 'skip-existing', 'dry-run', 'resume', 'max-ru', 'json'],
  maxPositionals: 1,
  help: commandHelp({
    name: 'user',
    args: '<pubkey>',
    description: [
      "Migrates all of one user's documents (their Cosmos partition: all seven types) to PostgreSQL.",
      "<pubkey> is the user's Nostr public key as 64 hex characters. Safe next to a full migration and the",
      'change-feed sync: all of them write through the same version-guarded upsert.',
    ].join('\n'),
    options: ['batch-size', 'skip-existing', 'dry-run', 'resume', 'max-ru', 'json'],
    writes: 'unless-dry-run',
    exitCodes: [
      '0    the run completed (documents it could not store are in the quarantine)',
      '1    the run failed, MIGRATION_MODE is not true, or settings are missing',
      interruptedLine,
    ],
  }),
  prepare: (values, positionals) => {
    const pubkey = parsePubkey(positionals[0]);
    const flags = runFlags(values);
    return (io) =>
      runMigrationCommand(io, {
        title: `Migration of user ${pubkey}`,
        resumeCommand: `npm run migrate:user ${pubkey} -- --resume`,
        dryRun: flags.dryRun === true,
        total: (services) => countDocuments(services.cosmos, { pubkey }),
        start: async (onProgress) => (await migrationUtility()).migrateUser(pubkey, { ...flags, onProgress }),
      });
  },
};
