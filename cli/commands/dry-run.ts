import { countDocuments } from '../../shared/cosmos/document-source.js';
import { defineCommand } from '../core/command.js';
import { sharedOptions } from '../core/options.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';
import { databaseCommandSettings } from './command-texts.js';

export const dryRunCommand = defineCommand({
  script: 'migrate:dry-run',
  entry: 'cli/migrate.ts dry-run',
  summary: 'classify every document as the migration would; write nothing',
  description: [
    'Reads every document in the Cosmos container and classifies it exactly as the full migration would',
    '(would write, unchanged, quarantined with a reason), writing nothing at all: no rows, no quarantine,',
    'no run record. Safe at any time; MIGRATION_MODE is not needed.',
  ].join('\n'),
  options: {
    batchSize: sharedOptions.batchSize('Documents per Cosmos page and per classification query (1-5000; default 100).'),
    maxRu: sharedOptions.maxRu,
    json: sharedOptions.json,
  },
  settings: databaseCommandSettings('never'),
  exitCodes: {
    ok: 'done',
    failed: 'failed, or the settings are missing',
    interrupted: 'interrupted (Ctrl-C); a dry run keeps nothing, run it again',
  },
  prepare: ({ values }) => {
    const flags = { ...runFlags(values), dryRun: true };
    return (io) =>
      runMigrationCommand(io, {
        title: 'Dry run of the full migration',
        resumeCommand: 'npm run migrate:dry-run',
        dryRun: true,
        total: (services) => countDocuments(services.cosmos, {}),
        start: async (hooks) => (await migrationUtility()).migrateAll({ ...flags, ...hooks }),
      });
  },
});
