import { InvalidInputError } from '../../shared/core/errors.js';
import { assertCosmosIsPrimary, assertMayMigrate } from '../../shared/migration/migration-mode.js';
import { formatFullVerificationReport, formatVerificationReport, verifyUser } from '../../shared/verification/index.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { untilInterrupted } from '../core/interrupt.js';
import { flag, parsePubkey, sharedOptions } from '../core/options.js';
import { verifyEverything } from '../verification-runner.js';
import { databaseCommandSettings, readSettings } from './command-texts.js';

export const verifyCommand = defineCommand({
  script: 'migrate:verify',
  entry: 'cli/migrate.ts verify',
  args: '<pubkey>',
  maxPositionals: 1,
  summary: "compare one user's documents field by field (--all: everything)",
  description: [
    'With <pubkey> (64 hex characters): compares all seven document types of that user in Cosmos DB and',
    'PostgreSQL field by field and prints every difference with its path (secret fields redacted). A field',
    'that is null on one side and absent on the other is not a difference (the mapping stores both alike).',
    'With --all instead of a pubkey (npm run migrate:verify -- --all): a streaming comparison of everything, feed',
    "range by feed range (physical partition), up to --concurrency at once: each range's change feed is read from",
    "the beginning (about what the full load's read costs, under the shared request-unit budget) and each document's",
    "content hash compared with its row's, then the range's PostgreSQL rows are matched against what was read. It",
    'reports documents missing in PostgreSQL, missing in Cosmos, and different, and writes a telemetry line',
    '(docs/telemetry.md) to stderr per range. --repair (with --all) migrates the missing and different ones again, then',
    'verifies again to confirm. Rows missing in Cosmos (documents deleted there, which LatestVersion mode',
    'never shows) are listed as candidates for reconcile: --repair never deletes them; run',
    'npm run migrate:reconcile -- --apply. Documents no table can hold (quarantined with no row, or a row not',
    'older than them) and entries resolved by an operator are listed with their reason, not counted. An open',
    'quarantined version newer than the row PostgreSQL serves, or one waiting for a row, is a difference: CONSISTENT',
    'means PostgreSQL serves exactly what Cosmos holds. Reads only, unless --repair.',
  ].join('\n'),
  options: {
    all: flag('Verify every document of every user instead of one user.'),
    repair: flag(
      'With --all: migrate again every document found missing in PostgreSQL or different (needs MIGRATION_MODE=true); deletes nothing.',
    ),
    batchSize: sharedOptions.batchSize('With --all: documents per change-feed page and rows per PostgreSQL page (1-5000; default 500).'),
    concurrency: sharedOptions.concurrency,
    maxRu: sharedOptions.maxRu,
    json: sharedOptions.json,
  },
  settings: [...databaseCommandSettings('with-repair'), ...readSettings],
  exitCodes: {
    ok: 'consistent (after the repair, with --repair)',
    failed: 'differences found, a database could not be read, or settings (or MIGRATION_MODE for --repair) are missing',
    interrupted:
      'interrupted (Ctrl-C): every feed range stopped after the page in hand; verification reads (a repair is idempotent), so run it again',
  },
  prepare: ({ values, positionals }) => {
    const { all, repair, batchSize: pageSize, concurrency, maxRu } = values;
    if (all && positionals[0] !== undefined) throw new InvalidInputError('<pubkey>', 'give a pubkey or --all, not both');
    if (repair && !all) throw new InvalidInputError('--repair', 'only with --all (to repair one user, run migrate:user <pubkey>)');
    if (!all) {
      const pubkey = parsePubkey(positionals[0]);
      return async (io) => {
        const report = await untilInterrupted(verifyUser(io.services(), pubkey), io.signal);
        io.result(io.json ? JSON.stringify(report, null, 2) : formatVerificationReport(report));
        return report.consistent ? ExitCode.ok : ExitCode.failed;
      };
    }
    return async (io) => {
      const services = io.services();
      if (repair) {
        assertMayMigrate(services.config, false);
        await assertCosmosIsPrimary(services, 'A repair');
      }
      const result = await verifyEverything(io, services, { repair, pageSize, concurrency, maxRequestUnitsPerSecond: maxRu });
      if (io.json) {
        io.result(JSON.stringify(result, null, 2));
      } else {
        const afterRepair = result.afterRepair ? ['', 'After the repair:', formatFullVerificationReport(result.afterRepair)] : [];
        io.result([formatFullVerificationReport(result.report), ...afterRepair].join('\n'));
      }
      return result.consistent ? ExitCode.ok : ExitCode.failed;
    };
  },
});
