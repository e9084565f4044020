import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type OperationInput, PartitionKeyDefinitionVersion } from '@azure/cosmos';
import pg from 'pg';
import { startCosmosDouble } from '../dev/cosmos-double/index.js';
import { loadConfig } from '../shared/config/env.js';
import { createCosmosClient, documentsContainer } from '../shared/cosmos/cosmos-client.js';
import { createPrismaClient } from '../shared/postgres/prisma-client.js';
import { reconcile } from '../shared/sync/reconcile.js';
import { startBenchServer } from './bench-server.js';

/**
 * Memory of a reconcile pass as the rows grow: N documents (default 200,000) in a Cosmos double with 4 physical
 * partitions and the same N rows in PostgreSQL, 1% of the documents then deleted in Cosmos; a reconcile with
 * `apply` runs in a process of its own (the double, which holds every document, stays in this one), and prints
 * its live heap (after a forced collection) and RSS each time another 50,000 documents have been read or rows
 * compared (a pass reads each feed range's documents, then matches its rows), then its peak RSS. Flat figures mean
 * the pass holds a page, not the id set. A measurement, not a test: nothing here asserts a time or a size.
 *
 *   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/reconcile-memory.ts --documents 200000
 */

const help = `Usage: npx tsx bench/reconcile-memory.ts [options]
  --documents <n>   documents in Cosmos and rows in PostgreSQL (default 200000)
  --chunk <n>       documents per change-feed page and rows per page (default 1000)
  --every <n>       print memory each time this many more documents have been read or rows compared (default 50000)
  -h, --help
PostgreSQL: BENCH_DATABASE_URL or TEST_DATABASE_URL (a fresh database is created and dropped), else embedded.`;

const { values } = parseArgs({
  options: {
    documents: { type: 'string', default: '200000' },
    chunk: { type: 'string', default: '1000' },
    every: { type: 'string', default: '50000' },
    child: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function positive(name: 'documents' | 'chunk' | 'every'): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const pubkeys = 10_000;
const pubkeyOf = (index: number) => (index % pubkeys).toString(16).padStart(64, '0');

/** The child: the reconcile pass alone, reporting its memory. */
async function runPass(): Promise<void> {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run the child with --expose-gc');
  const config = loadConfig({ ...process.env, MIGRATION_MODE: 'true' });
  if (!config.cosmos || !config.databaseUrl) throw new Error('the child needs DATABASE_URL and the Cosmos settings');
  const prisma = createPrismaClient(config.databaseUrl, 4);
  const cosmos = documentsContainer(createCosmosClient(config.cosmos, { endpointDiscovery: false }), config.cosmos);
  const every = positive('every');
  let next = every;
  const report = (read: number, scanned: number) => {
    collect();
    const { heapUsed, rss } = process.memoryUsage();
    console.log(
      `  ${read.toLocaleString('en').padStart(9)} read, ${scanned.toLocaleString('en').padStart(9)} compared: ` +
        `live heap ${megabytes(heapUsed)}, RSS ${megabytes(rss)}`,
    );
  };
  report(0, 0);
  const started = performance.now();
  const outcome = await reconcile(
    { config, prisma, cosmos },
    {
      apply: true,
      chunkSize: positive('chunk'),
      onProgress: ({ counts }) => {
        while (counts.documents + counts.scanned >= next) {
          report(counts.documents, counts.scanned);
          next += every;
        }
      },
    },
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `  pass: ${outcome.documents.toLocaleString('en')} read, ${outcome.scanned.toLocaleString('en')} compared, ` +
      `${outcome.candidates} missing in Cosmos, ${outcome.removed} removed, ` +
      `${Math.round(outcome.requestUnits).toLocaleString('en')} RU (the double's charge model), ${seconds} s`,
  );
  console.log(`  peak RSS of the reconcile process: ${megabytes(process.resourceUsage().maxRSS * 1024)}`);
  await prisma.$disconnect();
}

/** The parent: the double and the data, then the child. */
async function main(): Promise<void> {
  const count = positive('documents');
  const server = await startBenchServer();
  const database = await server.freshDatabase('reconcile');
  const double = await startCosmosDouble({ protocol: 'http', partitions: 4 });
  try {
    const { database: cosmosDatabase } = await double.client.databases.createIfNotExists({ id: double.settings.databaseName });
    const { container } = await cosmosDatabase.containers.create({
      id: double.settings.containerName,
      partitionKey: { paths: ['/pubkey'], version: PartitionKeyDefinitionVersion.V2 },
    });
    console.log(`Reconcile memory: ${count.toLocaleString('en')} documents, 4 partitions, ${server.description}, Node ${process.version}`);
    let loaded = 0;
    const worker = async () => {
      while (loaded < count) {
        const start = loaded;
        loaded = Math.min(count, loaded + 100);
        const operations: OperationInput[] = [];
        for (let index = start; index < loaded; index += 1) {
          const created = 1_700_000_000_000 + index;
          operations.push({
            operationType: 'Create',
            resourceBody: { id: `log-${index}`, pubkey: pubkeyOf(index), type: 'notification-log', title: `n${index}`, created },
          });
        }
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- the project loads with items.bulk (dev/local-services/load-documents.ts)
        const results = await container.items.bulk(operations);
        if (results.some((result) => result.statusCode !== 201)) throw new Error('bulk create refused a document');
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    // The rows the full load would have written: same id and pubkey; the version columns do not matter here.
    await pool.query(
      `INSERT INTO notification_logs (id, pubkey, title, created, "cosmosTs")
       SELECT 'log-' || i, lpad(to_hex(i % $2), 64, '0'), 'n' || i, 1700000000000 + i, 1700000000 FROM generate_series(0, $1 - 1) AS i`,
      [count, pubkeys],
    );
    await pool.end();
    const deleted = Math.max(1, Math.floor(count / 100));
    for (let index = 0; index < deleted; index += 1) {
      const at = index * 100 + 7;
      await container.item(`log-${at}`, pubkeyOf(at)).delete();
    }
    console.log(`Loaded; ${deleted.toLocaleString('en')} documents deleted in Cosmos. The pass, in its own process:`);
    const file = fileURLToPath(import.meta.url);
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', file, '--child', '--chunk', String(positive('chunk')), '--every', String(positive('every'))],
      {
        stdio: 'inherit',
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          AZURE_COSMOSDB_CONNECTION_STRING: double.connectionString,
          AZURE_COSMOSDB_DATABASE_NAME: double.settings.databaseName,
          AZURE_COSMOSDB_CONTAINER_NAME: double.settings.containerName,
          AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
        },
      },
    );
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    if (code !== 0) throw new Error(`the reconcile process exited with ${String(code)}`);
  } finally {
    await double.stop();
    await database.drop();
    await server.stop();
  }
}

if (values.help) console.log(help);
else if (values.child) await runPass();
else await main();
