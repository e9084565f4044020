import { type LoadResult, loadDocuments } from '../dev/local-services/load-documents.js';
import { type LocalEnvironment, startLocalEnvironment } from '../dev/local-services/local-environment.js';
import { demoDocuments } from '../dev/sample-data/demo-dataset.js';
import { formatCount } from '../shared/stats/type-labels.js';
import type { CommandIO } from './core/command.js';
import { abortedWithin, interruptionOf } from './core/interrupt.js';

export interface SampleData {
  /** Users to generate. */
  users: number;
  /** Same seed, same documents. */
  seed: number;
}

/** How long a failure waits for a Ctrl-C that may be on its way before it is reported as a failure. */
const signalGraceMs = 1000;

/**
 * What a failure of work on the local services is: the interruption, if a Ctrl-C is on its way. A
 * terminal's Ctrl-C reaches the local PostgreSQL too, and its refusal (57P01, "terminating connection
 * due to administrator command") can arrive before this process has handled its own copy of the signal.
 */
export async function asInterruption(io: CommandIO, error: unknown): Promise<unknown> {
  return (await abortedWithin(io.signal, signalGraceMs)) ? interruptionOf(io.signal) : error;
}

/**
 * The embedded PostgreSQL and the local Cosmos server, started for this command and stopped with it:
 * their stop (both servers down, PostgreSQL's data deleted) is deferred to the end of the command,
 * however it ends, a second Ctrl-C included. Ctrl-C during the start stops what had started.
 */
export async function startLocalServices(io: CommandIO): Promise<LocalEnvironment> {
  const stopped = () => io.result('Local services stopped; their data is gone.');
  let environment: LocalEnvironment;
  try {
    environment = await startLocalEnvironment((line) => io.result(line), { signal: io.signal, callerHandlesSignals: true });
  } catch (error) {
    // A start that fails or is interrupted stops what it had started before it throws.
    stopped();
    throw error;
  }
  io.defer(async () => {
    await environment.stop();
    stopped();
  });
  return environment;
}

/** Loads a generated Nostria dataset into the local Cosmos container, with progress; Ctrl-C stops it between chunks. */
export async function loadSampleData(io: CommandIO, environment: LocalEnvironment, data: SampleData): Promise<LoadResult> {
  io.result(`\nLoading a generated Nostria dataset of ${formatCount(data.users)} users (seed ${data.seed}) into Cosmos...`);
  // Generating is cheap next to loading: a first pass just counts, so the bar has a total.
  let documents = 0;
  for (const _ of demoDocuments(data.users, data.seed)) documents += 1;
  const loaded = await loadDocuments(environment.container, demoDocuments(data.users, data.seed), {
    signal: io.signal,
    onProgress: (count) => io.progress.update({ label: 'Loading Cosmos', done: count, total: documents }),
  });
  io.progress.stop();
  io.result(`  ${formatCount(loaded.loaded)} documents in Cosmos, including deliberately broken ones the migration must quarantine.`);
  if (loaded.refused.length > 0) {
    io.result(
      `  Cosmos itself refused ${loaded.refused.length} broken document(s) (no id, or an id that is not a string): ` +
        `they never reach a migration.`,
    );
  }
  return loaded;
}

/** The settings that point the migrate:* commands at the local services, by name. */
export type LocalSettings = Record<
  | 'DATABASE_URL'
  | 'AZURE_COSMOSDB_CONNECTION_STRING'
  | 'AZURE_COSMOSDB_DATABASE_NAME'
  | 'AZURE_COSMOSDB_CONTAINER_NAME'
  | 'AZURE_COSMOSDB_ENDPOINT_DISCOVERY'
  | 'MIGRATION_MODE',
  string
>;

/** What to export so that the real commands work on `environment` (their secrets are throwaway and local). */
export function localSettingsOf(environment: LocalEnvironment): LocalSettings {
  const cosmos = environment.config.cosmos;
  if (!environment.config.databaseUrl || cosmos?.auth.kind !== 'connectionString') {
    throw new Error('the local environment has no database URL or Cosmos connection string');
  }
  return {
    DATABASE_URL: environment.config.databaseUrl,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.auth.connectionString,
    AZURE_COSMOSDB_DATABASE_NAME: cosmos.databaseName,
    AZURE_COSMOSDB_CONTAINER_NAME: cosmos.containerName,
    AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
    MIGRATION_MODE: 'true',
  };
}
