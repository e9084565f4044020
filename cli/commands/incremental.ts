import { defineCommand } from '../core/command.js';
import { sharedOptions } from '../core/options.js';
import { migrationUtility, runFlags, runMigrationCommand } from '../migration-command.js';
import { databaseCommandSettings, readSettings, resumableInterruption } from './command-texts.js';

export const incrementalCommand = defineCommand({
  script: 'migrate:incremental',
  entry: 'cli/migrate.ts incremental',
  summary: 'apply what changed in Cosmos since PostgreSQL last stood in its change feed',
  description: [
    'Catches PostgreSQL up with every change made in Cosmos DB since its change-feed positions: where the last',
    "completed full load ended (each feed range's final continuation), or where migrate:incremental or",
    "migrate:sync last moved them. It reads each feed range's change feed on from there until every range is",
    'caught up, as a checkpointed run, then moves the positions on. Documents written while the full load ran',
    'are included. For running without the change-feed sync function, or after an outage of it. Deleted',
    'documents are not seen (migrate:sync --mode AllVersionsAndDeletes carries deletes). Before any full load',
    'has completed there is nothing to continue from: run migrate:full first.',
  ].join('\n'),
  options: {
    batchSize: sharedOptions.batchSize('Changes per Cosmos page and per PostgreSQL write (1-5000; default 100).'),
    dryRun: sharedOptions.dryRun,
    resume: sharedOptions.resume,
    maxRu: sharedOptions.maxRu,
    concurrency: sharedOptions.concurrency,
    json: sharedOptions.json,
  },
  settings: [...databaseCommandSettings('unless-dry-run'), ...readSettings],
  exitCodes: {
    ok: 'the run completed: every feed range is caught up',
    failed: 'the run failed, no full load has completed yet, nothing to resume, MIGRATION_MODE is not true, or settings are missing',
    interrupted: resumableInterruption,
  },
  prepare: ({ values }) => {
    const { batchSize, dryRun, resume, maxRequestUnitsPerSecond } = runFlags(values);
    const concurrency = values.concurrency;
    return (io) =>
      runMigrationCommand(io, {
        title: 'Incremental migration',
        resumeCommand: 'npm run migrate:incremental -- --resume',
        dryRun: dryRun === true,
        total: () => Promise.resolve(undefined),
        start: async (hooks) =>
          (await migrationUtility()).migrateIncremental({ batchSize, dryRun, resume, maxRequestUnitsPerSecond, concurrency, ...hooks }),
      });
  },
});
