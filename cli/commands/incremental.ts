import { defaultOverlapSeconds } from '../../shared/migration/incremental.js';
import { defineCommand } from '../core/command.js';
import { sharedOptions } from '../core/options.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';
import { databaseCommandSettings, resumableInterruption } from './command-texts.js';

export const incrementalCommand = defineCommand({
  script: 'migrate:incremental',
  entry: 'cli/migrate.ts incremental',
  summary: 'migrate what changed since the last completed run',
  description: [
    'Catches PostgreSQL up with what changed in Cosmos DB since the last completed run that read whole types',
    `(full, accounts or incremental): each type's watermark, re-reading ${defaultOverlapSeconds} seconds before it so same-second`,
    'writes are not missed.',
    'For running without the change-feed sync function, or after an outage of it. A type that was never',
    'migrated completely is read in full. Deleted documents are not seen; `migrate:verify --all` reports them.',
  ].join('\n'),
  options: {
    batchSize: sharedOptions.batchSize('Documents per Cosmos page and per PostgreSQL write (1-5000; default 100).'),
    dryRun: sharedOptions.dryRun,
    resume: sharedOptions.resume,
    maxRu: sharedOptions.maxRu,
    json: sharedOptions.json,
  },
  settings: databaseCommandSettings('unless-dry-run'),
  exitCodes: {
    ok: 'the run completed',
    failed: 'the run failed, nothing to resume, MIGRATION_MODE is not true, or settings are missing',
    interrupted: resumableInterruption,
  },
  prepare: ({ values }) => {
    const { batchSize, dryRun, resume, maxRequestUnitsPerSecond } = runFlags(values);
    return (io) =>
      runMigrationCommand(io, {
        title: 'Incremental migration',
        resumeCommand: 'npm run migrate:incremental -- --resume',
        dryRun: dryRun === true,
        total: () => Promise.resolve(undefined),
        start: async (hooks) =>
          (await migrationUtility()).migrateIncremental({ batchSize, dryRun, resume, maxRequestUnitsPerSecond, ...hooks }),
      });
  },
});
