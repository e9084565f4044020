import { countDocuments } from '../../shared/cosmos/document-source.js';
import { formatFullVerificationReport } from '../../shared/verification/index.js';
import { type CliCommand, ExitCode } from '../command.js';
import { commandHelp, interruptedLine } from '../help-text.js';
import { type MigrationSpec, migrateWithProgress, migrationUtility, reportMigration, runFlags } from '../migration-command.js';
import { describeRun } from '../migration-runner.js';
import { verifyEverything } from '../verification-runner.js';

export const fullCommand: CliCommand = {
  name: 'full',
  options: ['batch-size', 'skip-existing', 'resume', 'max-ru', 'repair', 'json'],
  maxPositionals: 0,
  help: commandHelp({
    name: 'full',
    description: [
      'Migrates the whole Cosmos container (all seven types, then documents of no known type, which go to the',
      'quarantine), then verifies everything as `migrate:verify --all` does. Re-running it changes nothing;',
      'an interrupted run continues with --resume. With --repair, documents the verification finds missing',
      'or different are migrated again and verified once more.',
    ].join('\n'),
    options: ['batch-size', 'skip-existing', 'resume', 'max-ru', 'repair', 'json'],
    writes: 'always',
    exitCodes: [
      '0    migrated, and the verification found PostgreSQL consistent with Cosmos',
      '1    the verification found differences, the run failed (resume with --resume), MIGRATION_MODE is not true, or settings are missing',
      interruptedLine,
    ],
  }),
  prepare: (values) => {
    const flags = { ...runFlags(values), dryRun: false };
    const repair = values.repair === true;
    return async (io) => {
      const spec: MigrationSpec = {
        title: 'Full migration',
        resumeCommand: `npm run migrate:full -- --resume${flags.skipExisting ? ' --skip-existing' : ''}`,
        dryRun: false,
        total: (services) => countDocuments(services.cosmos, {}),
        start: async (onProgress) => (await migrationUtility()).migrateAll({ ...flags, onProgress }),
      };
      const outcome = await migrateWithProgress(io, spec);
      if (outcome.state === 'interrupted') return reportMigration(io, spec, outcome);
      if (!io.json) io.result(describeRun(spec.title, outcome.progress));
      const verification = await verifyEverything(io, io.services(), { repair, pageSize: flags.batchSize });
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
};
