import { countCosmosDocuments } from '../../shared/stats/index.js';
import { defineCommand } from '../core/command.js';
import { sharedOptions } from '../core/options.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';
import { databaseCommandSettings, readSettings, resumableInterruption } from './command-texts.js';

export const accountsCommand = defineCommand({
  script: 'migrate:accounts',
  entry: 'cli/migrate.ts accounts',
  summary: 'migrate every account',
  description: [
    'Migrates every `account` document from Cosmos DB to PostgreSQL (table accounts). It reads the change feed',
    'of every feed range (physical partition) from the beginning, as the full migration does, so it costs about',
    "as many request units, and keeps the accounts; each range's continuation is its checkpoint.",
    'Each page is written with one set-based upsert that never replaces a newer row with an older version,',
    "and committed together with the run's checkpoint, so re-running changes nothing and an interrupted run",
    'resumes where it stopped (--resume). Documents that cannot be mapped go to the quarantine table with',
    'the reason; the run goes on.',
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
    ok: 'the run completed (documents it could not store are in the quarantine; see migrate:stats)',
    failed: 'the run failed (resume with --resume once fixed), nothing to resume, MIGRATION_MODE is not true, or settings are missing',
    interrupted: resumableInterruption,
  },
  prepare: ({ values }) => {
    const flags = runFlags(values);
    return (io) =>
      runMigrationCommand(io, {
        title: 'Accounts migration',
        resumeCommand: 'npm run migrate:accounts -- --resume',
        dryRun: flags.dryRun === true,
        total: (services) => countCosmosDocuments(services.cosmos, 'account'),
        start: async (hooks) => (await migrationUtility()).migrateAccounts({ ...flags, ...hooks }),
      });
  },
});
