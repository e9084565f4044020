import { createInterface } from 'node:readline';
import type { AppConfig, CosmosSettings } from '../shared/config/env.js';
import { createCosmosClient } from '../shared/cosmos/cosmos-client.js';
import { resumeRun } from '../shared/migration/run-migration.js';
import { createPrismaClient } from '../shared/postgres/prisma-client.js';

/**
 * One worker process of the `scale-out` benchmark, as one Function instance would be: its own Prisma pool
 * and Cosmos client, migrating only its share of a recorded full run's feed ranges (`resumeRun` with
 * `parts`), every page committed with its checkpoint through the engine's page step, like the others'.
 * Started by bench/variants/scale-out.ts with everything in its environment (the database URL may hold a
 * password, so never on the command line). Prints `ready` once connected, starts on the first line of its
 * stdin, prints one JSON line (the documents it read and its CPU), and disconnects when its stdin ends.
 */

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`scale-out worker: ${name} is not set`);
  return value;
}

const databaseUrl = required('SCALE_OUT_DATABASE_URL');
const settings: CosmosSettings = {
  auth: { kind: 'connectionString', connectionString: required('SCALE_OUT_COSMOS_CONNECTION_STRING') },
  databaseName: required('SCALE_OUT_COSMOS_DATABASE'),
  containerName: required('SCALE_OUT_COSMOS_CONTAINER'),
};
const runId = required('SCALE_OUT_RUN_ID');
const parts = required('SCALE_OUT_PARTS').split(',');
const batchSize = Number(required('SCALE_OUT_BATCH_SIZE'));

const config: AppConfig = { databaseUrl, poolSize: 5, usePostgres: false, dualDatabaseMode: false, migrationMode: true, cosmos: settings };
const prisma = createPrismaClient(databaseUrl, config.poolSize);
const client = createCosmosClient(settings, { endpointDiscovery: false });
const container = client.database(settings.databaseName).container(settings.containerName);
try {
  // Connected before the clock starts: starting a process and connecting is not what is measured.
  await Promise.all([prisma.$queryRawUnsafe('SELECT 1'), container.read()]);
  const lines = createInterface({ input: process.stdin });
  const closed = new Promise<void>((resolve) => lines.once('close', resolve));
  const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  process.stdout.write('ready\n');
  await go;
  const cpu = process.cpuUsage();
  // Each of its ranges read at once, so every configuration has the same four chains in flight in total.
  const progress = await resumeRun({ config, prisma, cosmos: container }, runId, { parts, batchSize, concurrency: parts.length });
  const used = process.cpuUsage(cpu);
  const processed = parts.reduce((sum, part) => sum + (progress.processedByPart[part] ?? 0), 0);
  process.stdout.write(`${JSON.stringify({ processed, cpuSeconds: (used.user + used.system) / 1e6 })}\n`);
  // Connected until released: the benchmark reads the PostgreSQL backends' CPU after the last worker is done.
  await closed;
} finally {
  client.dispose();
  await prisma.$disconnect();
}
