import { countDocuments } from '../../shared/cosmos/document-source.js';
import { defineCommand } from '../core/command.js';
import { parsePubkey, sharedOptions } from '../core/options.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';
import { databaseCommandSettings, readSettings, resumableInterruption } from './command-texts.js';

export const userCommand = defineCommand({
  script: 'migrate:user',
  entry: 'cli/migrate.ts user',
  args: '<pubkey>',
  maxPositionals: 1,
  summary: "migrate all of one user's documents",
  description: [
    "Migrates all of one user's documents (their Cosmos partition: all seven types, read with a query of that",
    'partition alone) to PostgreSQL.',
    "<pubkey> is the user's Nostr public key as 64 hex characters. Safe next to a full migration and the",
    'change-feed sync: all of them write through the same version-guarded upsert.',
  ].join('\n'),
  options: {
    batchSize: sharedOptions.batchSize('Documents per Cosmos page and per PostgreSQL write (1-5000; default 100).'),
    skipExisting: sharedOptions.skipExisting,
    dryRun: sharedOptions.dryRun,
    resume: sharedOptions.resume,
    maxRu: sharedOptions.maxRu,
    json: sharedOptions.json,
  },
  settings: [...databaseCommandSettings('unless-dry-run'), ...readSettings],
  exitCodes: {
    ok: 'the run completed (documents it could not store are in the quarantine)',
    failed: 'the run failed, nothing to resume, MIGRATION_MODE is not true, or settings are missing',
    interrupted: resumableInterruption,
  },
  prepare: ({ values, positionals }) => {
    const pubkey = parsePubkey(positionals[0]);
    const flags = runFlags(values);
    return (io) =>
      runMigrationCommand(io, {
        title: `Migration of user ${pubkey}`,
        resumeCommand: `npm run migrate:user ${pubkey} -- --resume`,
        dryRun: flags.dryRun === true,
        total: (services) => countDocuments(services.cosmos, { pubkey }),
        start: async (hooks) => (await migrationUtility()).migrateUser(pubkey, { ...flags, ...hooks }),
      });
  },
});
