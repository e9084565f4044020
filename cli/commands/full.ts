import { countDocuments } from '../../shared/cosmos/document-source.js';
import { formatFullVerificationReport } from '../../shared/verification/index.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { flag, sharedOptions } from '../core/options.js';
import { type MigrationSpec, migrateWithProgress, migrationUtility, reportMigration, runFlags } from '../migration-command.js';
import { describeRun } from '../migration-progress.js';
import { verifyEverything } from '../verification-runner.js';
import { databaseCommandSettings, readSettings, resumableInterruption } from './command-texts.js';

export const fullCommand = defineCommand({
  script: 'migrate:full',
  entry: 'cli/migrate.ts full',
  summary: 'migrate everything, then verify everything',
  description: [
    'Migrates the whole Cosmos container by reading its change feed from the beginning, one feed range (physical',
    'partition) at a time, up to --concurrency at once: every document once, at its latest version, routed by',
    'its type (the seven types; anything else goes to the quarantine with the reason). Each range is done when',
    'its feed answers "nothing newer"; where each ended becomes PostgreSQL\'s change-feed position, from which',
    'migrate:incremental and migrate:sync carry on. Then verifies everything as `migrate:verify --all` does.',
    'Re-running it changes nothing; an interrupted run continues with --resume. With --repair, documents the',
    'verification finds missing or different are migrated again and verified once more.',
  ].join('\n'),
  options: {
    batchSize: sharedOptions.batchSize('Documents per Cosmos page and per PostgreSQL write (1-5000; default 100).'),
    skipExisting: sharedOptions.skipExisting,
    resume: sharedOptions.resume,
    maxRu: sharedOptions.maxRu,
    concurrency: sharedOptions.concurrency,
    repair: flag('Migrate again every document the verification finds missing or different, then verify again.'),
    json: sharedOptions.json,
  },
  settings: [...databaseCommandSettings('always'), ...readSettings],
  exitCodes: {
    ok: 'migrated, and the verification found PostgreSQL consistent with Cosmos',
    failed:
      'the verification found differences, the run failed (resume with --resume), nothing to resume, MIGRATION_MODE ' +
      'is not true, or settings are missing',
    interrupted: `${resumableInterruption} (during the verification: run it again)`,
  },
  prepare: ({ values }) => {
    const flags = { ...runFlags(values), dryRun: false, concurrency: values.concurrency };
    const repair = values.repair;
    return async (io) => {
      const spec: MigrationSpec = {
        title: 'Full migration',
        resumeCommand: `npm run migrate:full -- --resume${flags.skipExisting ? ' --skip-existing' : ''}`,
        dryRun: false,
        total: (services) => countDocuments(services.cosmos, {}),
        start: async (hooks) => (await migrationUtility()).migrateAll({ ...flags, ...hooks }),
      };
      const outcome = await migrateWithProgress(io, spec);
      if (outcome.state === 'interrupted') return reportMigration(io, spec, outcome);
      if (!io.json) io.result(describeRun(spec.title, outcome.progress));
      const verification = await verifyEverything(io, io.services(), {
        repair,
        pageSize: flags.batchSize,
        concurrency: flags.concurrency,
        maxRequestUnitsPerSecond: flags.maxRequestUnitsPerSecond,
      });
      if (io.json) {
        io.result(JSON.stringify({ state: 'completed', run: outcome.progress, verification }, null, 2));
      } else {
        const afterRepair = verification.afterRepair
          ? ['', 'After the repair:', formatFullVerificationReport(verification.afterRepair)]
          : [];
        io.result([formatFullVerificationReport(verification.report), ...afterRepair].join('\n'));
      }
      return verification.consistent ? ExitCode.ok : ExitCode.failed;
    };
  },
});
