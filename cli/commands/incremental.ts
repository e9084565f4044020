import { defaultOverlapSeconds } from '../../shared/migration/incremental.js';
import type { CliCommand } from '../command.js';
import { commandHelp, interruptedLine } from '../help-text.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';

export const incrementalCommand: CliCommand = {
  name: 'incremental',
  options: ['batch-size', 'dry-run', 'resume', 'max-ru', 'json'],
  maxPositionals: 0,
  help: commandHelp({
    name: 'incremental',
    description: [
      'Catches PostgreSQL up with what changed in Cosmos DB since the last completed run that read whole types',
      `(full, accounts or incremental): each type's watermark, re-reading ${defaultOverlapSeconds} seconds before it so same-second`,
      'writes are not missed.',
      'For running without the change-feed sync function, or after an outage of it. A type that was never',
      'migrated completely is read in full. Deleted documents are not seen; `migrate:verify --all` reports them.',
    ].join('\n'),
    options: ['batch-size', 'dry-run', 'resume', 'max-ru', 'json'],
    writes: 'unless-dry-run',
    exitCodes: ['0    the run completed', '1    the run failed, MIGRATION_MODE is not true, or settings are missing', interruptedLine],
  }),
  prepare: (values) => {
    const { batchSize, dryRun, resume, maxRequestUnitsPerSecond } = runFlags(values);
    return (io) =>
      runMigrationCommand(io, {
        title: 'Incremental migration',
        resumeCommand: 'npm run migrate:incremental -- --resume',
        dryRun: dryRun === true,
        total: () => Promise.resolve(undefined),
        start: async (onProgress) =>
          (await migrationUtility()).migrateIncremental({ batchSize, dryRun, resume, maxRequestUnitsPerSecond, onProgress }),
      });
  },
};
