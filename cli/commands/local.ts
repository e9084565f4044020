import { defineCommand } from '../core/command.js';
import { interruptionOf, whenAborted } from '../core/interrupt.js';
import { asInterruption, type LocalSettings, loadSampleData, localSettingsOf, startLocalServices } from '../local-services.js';
import { localServicesNote, sampleDataDefaults, sampleDataOptions } from './sample-data-options.js';

export const localCommand = defineCommand({
  script: 'local',
  entry: 'cli/local.ts',
  summary: 'start the local databases with sample data, for the migrate:* commands',
  description: [
    'Starts the same throwaway services as the demo (an embedded PostgreSQL with the schema applied, and the',
    "project's Cosmos DB double with 4 physical partitions and a real change feed, on plain HTTP, both on",
    '127.0.0.1) and loads the sample data into Cosmos, then prints the settings to export in another terminal,',
    'so that the real commands work on them: `npm run migrate:stats`, `migrate:dry-run`, `migrate:full`,',
    '`migrate:sync` (after a full load; changes you write to the container with the SDK flow through it),',
    '`migrate:verify -- --all`, ... It keeps running until Ctrl-C, which stops both services and deletes their data.',
  ].join('\n'),
  options: { ...sampleDataOptions },
  settings: [],
  settingsNote: localServicesNote,
  exitCodes: {
    ok: '(never: it runs until stopped)',
    failed: 'a service could not start',
    interrupted: 'stopped with Ctrl-C, its normal end: both services stopped and their data deleted',
  },
  prepare:
    ({ values }) =>
    async (io) => {
      try {
        const environment = await startLocalServices(io);
        await loadSampleData(io, environment, {
          users: values.users ?? sampleDataDefaults.users,
          seed: values.seed ?? sampleDataDefaults.seed,
        });
        io.result(`\n${describeExports(localSettingsOf(environment))}`);
      } catch (error) {
        throw await asInterruption(io, error);
      }
      // Ctrl-C may have come while the sample data loaded, and that load ended all the same.
      await whenAborted(io.signal);
      throw interruptionOf(io.signal);
    },
});

/** Shell lines that point the migrate:* commands at the local services. */
function describeExports(settings: LocalSettings): string {
  const lines = Object.entries(settings).map(([name, value]) => `export ${name}='${value}'`);
  return [
    'Local services are running. In another terminal, in this folder:',
    '',
    ...lines.map((line) => `  ${line}`),
    '',
    'then run e.g. npm run migrate:stats, npm run migrate:dry-run, npm run migrate:full, then npm run migrate:sync.',
    "AZURE_COSMOSDB_ENDPOINT_DISCOVERY=false keeps the Cosmos client on the local server's plain-HTTP endpoint.",
    'Ctrl-C here stops both services and deletes their data.',
  ].join('\n');
}
