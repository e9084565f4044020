import { formatStatsForHumans, getMigrationStats } from '../../shared/stats/index.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { untilInterrupted } from '../core/interrupt.js';
import { sharedOptions } from '../core/options.js';
import { databaseCommandSettings, readOnlyInterruption } from './command-texts.js';

export const statsCommand = defineCommand({
  script: 'migrate:stats',
  entry: 'cli/migrate.ts stats',
  summary: 'counts per type in Cosmos DB and PostgreSQL, progress, quarantine, last run',
  description: [
    'Counts each document type in Cosmos DB and in PostgreSQL, and prints the migration progress per type',
    '(rows plus quarantined documents, as a share of the Cosmos count), the quarantine and the last run',
    '(completed, interrupted, failed, still running, or abandoned: running with no heartbeat for five minutes,',
    'killed or unable to record its end, to continue with --resume), and the last migrate:reconcile pass.',
    'Reads only. With --json the object has the keys cosmos, postgres (counts keyed by the Cosmos `type`),',
    'quarantined (a number), progress (percent per type), quarantinedByType, lastRun and lastReconcile.',
  ].join('\n'),
  options: { json: sharedOptions.json },
  settings: databaseCommandSettings('never'),
  exitCodes: {
    ok: 'counted',
    failed: 'a database could not be read (it is named), the schema is missing, or the settings are missing',
    interrupted: readOnlyInterruption,
  },
  prepare: () => async (io) => {
    const stats = await untilInterrupted(getMigrationStats(io.services()), io.signal);
    io.result(io.json ? JSON.stringify(stats, null, 2) : formatStatsForHumans(stats));
    return ExitCode.ok;
  },
});
