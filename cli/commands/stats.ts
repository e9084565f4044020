import { formatStatsForHumans, getMigrationStats } from '../../shared/stats/index.js';
import { type CliCommand, ExitCode } from '../command.js';
import { commandHelp } from '../help-text.js';

export const statsCommand: CliCommand = {
  name: 'stats',
  options: ['json'],
  maxPositionals: 0,
  help: commandHelp({
    name: 'stats',
    description: [
      'Counts each document type in Cosmos DB and in PostgreSQL, and prints the migration progress per type',
      '(rows plus quarantined documents, as a share of the Cosmos count), the quarantine and the last run.',
      'Reads only. With --json the object has the keys cosmos, postgres (counts keyed by the Cosmos `type`),',
      'quarantined (a number), progress (percent per type), quarantinedByType and lastRun.',
    ].join('\n'),
    options: ['json'],
    writes: 'never',
    exitCodes: ['0    counted', '1    a database could not be read, or the settings are missing'],
  }),
  prepare: () => async (io) => {
    const stats = await getMigrationStats(io.services());
    io.result(io.json ? JSON.stringify(stats, null, 2) : formatStatsForHumans(stats));
    return ExitCode.ok;
  },
};
