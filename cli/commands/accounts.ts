import { countCosmosDocuments } from '../../shared/stats/index.js';
import type { CliCommand } from '../command.js';
import { commandHelp, interruptedLine } from '../help-text.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';

export const accountsCommand: CliCommand = {
  name: 'accounts',
  options: ['batch-size', 'skip-existing', 'dry-run', 'resume', 'max-ru', 'json'],
  maxPositionals: 0,
  help: commandHelp({
    name: 'accounts',
    description: [
      'Migrates every `account` document from Cosmos DB to PostgreSQL (table accounts), a page at a time.',
      'Each page is written with one set-based upsert that never replaces a newer row with an older version,',
      "and committed together with the run's checkpoint, so re-running changes nothing and an interrupted run",
      'resumes where it stopped (--resume). Documents that cannot be mapped go to the quarantine table with',
      'the reason; the run goes on.',
    ].join('\n'),
    options: ['batch-size', 'skip-existing', 'dry-run', 'resume', 'max-ru', 'json'],
    writes: 'unless-dry-run',
    exitCodes: [
      '0    the run completed (documents it could not store are in the quarantine; see migrate:stats)',
      '1    the run failed (resume with --resume once fixed), MIGRATION_MODE is not true, or settings are missing',
      interruptedLine,
    ],
  }),
  prepare: (values) => {
    const flags = runFlags(values);
    return (io) =>
      runMigrationCommand(io, {
        title: 'Accounts migration',
        resumeCommand: 'npm run migrate:accounts -- --resume',
        dryRun: flags.dryRun === true,
        total: (services) => countCosmosDocuments(services.cosmos, 'account'),
        start: async (onProgress) => (await migrationUtility()).migrateAccounts({ ...flags, onProgress }),
      });
  },
};
