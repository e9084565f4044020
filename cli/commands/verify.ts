import { assertMayMigrate } from '../../shared/migration/migration-mode.js';
import { formatFullVerificationReport, formatVerificationReport, verifyUser } from '../../shared/verification/index.js';
import { parseBatchSize, parsePubkey, UsageError } from '../cli-options.js';
import { type CliCommand, ExitCode } from '../command.js';
import { commandHelp } from '../help-text.js';
import { verifyEverything } from '../verification-runner.js';

export const verifyCommand: CliCommand = {
  name: 'verify',
  options: ['all', 'repair', 'batch-size', 'json'],
  maxPositionals: 1,
  help: commandHelp({
    name: 'verify',
    args: '<pubkey>',
    description: [
      'With <pubkey> (64 hex characters): compares all seven document types of that user in Cosmos DB and',
      'PostgreSQL field by field and prints every difference with its path (secret fields redacted). A field',
      'that is null on one side and absent on the other is not a difference (the mapping stores both alike).',
      'With --all instead of a pubkey (npm run migrate:verify -- --all): a streaming comparison of everything',
      '(counts per type, then a content hash per document) reporting documents missing in PostgreSQL, missing',
      'in Cosmos, and different. --repair (with --all) migrates the missing and different ones again, then',
      'verifies again to confirm. Quarantined documents are listed with their reason and are not counted as',
      'differences. Reads only, unless --repair.',
    ].join('\n'),
    options: ['all', 'repair', 'batch-size', 'json'],
    optionLines: {
      'batch-size': '--batch-size <n>   With --all: documents per Cosmos page and per PostgreSQL lookup (1-5000; default 500).',
    },
    writes: 'with-repair',
    exitCodes: [
      '0    consistent (after the repair, with --repair)',
      '1    differences found, or a database could not be read, or settings (or MIGRATION_MODE for --repair) are missing',
    ],
  }),
  prepare: (values, positionals) => {
    const all = values.all === true;
    const repair = values.repair === true;
    const pageSize = parseBatchSize(values['batch-size'] as string | undefined);
    if (all && positionals[0] !== undefined) throw new UsageError('<pubkey>: give a pubkey or --all, not both');
    if (repair && !all) throw new UsageError('--repair: only with --all (to repair one user, run migrate:user <pubkey>)');
    if (!all) {
      const pubkey = parsePubkey(positionals[0], '<pubkey>');
      return async (io) => {
        const report = await verifyUser(io.services(), pubkey);
        io.result(io.json ? JSON.stringify(report, null, 2) : formatVerificationReport(report));
        return report.consistent ? ExitCode.ok : ExitCode.failed;
      };
    }
    return async (io) => {
      const services = io.services();
      if (repair) assertMayMigrate(services.config, false);
      const result = await verifyEverything(io, services, { repair, pageSize });
      if (io.json) {
        io.result(JSON.stringify(result, null, 2));
      } else {
        const afterRepair = result.afterRepair ? ['', 'After the repair:', formatFullVerificationReport(result.afterRepair)] : [];
        io.result([formatFullVerificationReport(result.report), ...afterRepair].join('\n'));
      }
      return result.consistent ? ExitCode.ok : ExitCode.failed;
    };
  },
};
