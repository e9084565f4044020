import { countDocuments } from '../../shared/cosmos/document-source.js';
import type { CliCommand } from '../command.js';
import { commandHelp } from '../help-text.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';

export const dryRunCommand: CliCommand = {
  name: 'dry-run',
  options: ['batch-size', 'max-ru', 'json'],
  maxPositionals: 0,
  help: commandHelp({
    name: 'dry-run',
    description: [
      'Reads every document in the Cosmos container and classifies it exactly as the full migration would',
      '(would write, unchanged, quarantined with a reason), writing nothing at all: no rows, no quarantine,',
      'no run record. Safe at any time; MIGRATION_MODE is not needed.',
    ].join('\n'),
    options: ['batch-size', 'max-ru', 'json'],
    optionLines: { 'batch-size': '--batch-size <n>   Documents per Cosmos page and per classification query (1-5000; default 100).' },
    writes: 'never',
    exitCodes: [
      '0    done',
      '1    failed, or the settings are missing',
      '130  interrupted (Ctrl-C); a dry run keeps nothing, run it again',
    ],
  }),
  prepare: (values) => {
    const flags = { ...runFlags(values), dryRun: true };
    return (io) =>
      runMigrationCommand(io, {
        title: 'Dry run of the full migration',
        resumeCommand: 'npm run migrate:dry-run',
        dryRun: true,
        total: (services) => countDocuments(services.cosmos, {}),
        start: async (onProgress) => (await migrationUtility()).migrateAll({ ...flags, onProgress }),
      });
  },
};
