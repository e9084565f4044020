import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import type { AppConfig } from '../../shared/config/env.js';
import { fullLoadScope } from '../../shared/migration/migrate-type.js';
import { createRun, findRun } from '../../shared/migration/runs.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { benchDocuments } from '../document-stream.js';
import { Stopwatch } from '../stopwatch.js';
import type { VariantRun } from './variant.js';

const workerScript = fileURLToPath(new URL('../scale-out-worker.ts', import.meta.url));

/** What a worker process reports when it has finished its ranges. */
interface WorkerResult {
  processed: number;
  cpuSeconds: number;
}

interface Worker {
  ready: Promise<void>;
  done: Promise<WorkerResult>;
  go(): void;
  /** Lets it disconnect and exit, once its backends' CPU has been read. */
  release(): void;
  /** Ends the process if it was not released (a run that failed before every worker had finished). */
  stop(): void;
}

/**
 * A full load spread over `workers` processes, as Function instances spread it: the Cosmos double (4
 * physical partitions) is loaded untimed, one full run is recorded with its feed ranges, and each worker
 * process (bench/scale-out-worker.ts) takes every `workers`-th range and migrates it through the engine
 * into the one PostgreSQL database. The clock runs from the moment every worker is connected and told to
 * start until the last has finished; the aggregate rate is the run's documents over that time. The run's
 * own counters are checked: completed, every loaded document counted once.
 *
 * The double serves every worker from this process: its CPU is this variant's client CPU.
 */
export function scaleOut(workers: number): VariantRun {
  return async ({ documents, databaseUrl, batchSize, sampler }) => {
    const cosmos = await startLocalCosmosServer();
    const prisma = createPrismaClient(databaseUrl, 2);
    const started: Worker[] = [];
    try {
      const container = await cosmos.createDocumentsContainer();
      const { loaded } = await loadDocuments(container, benchDocuments(documents));
      sampler.markInput();
      const config: AppConfig = {
        databaseUrl,
        poolSize: 2,
        usePostgres: false,
        dualDatabaseMode: false,
        migrationMode: true,
        cosmos: cosmos.settings,
      };
      const scope = await fullLoadScope({ cosmos: container });
      const run = await createRun(prisma, 'full', scope);
      const shares = Array.from({ length: workers }, (_, worker) => scope.parts.filter((_, index) => index % workers === worker));
      const env = {
        SCALE_OUT_DATABASE_URL: databaseUrl,
        SCALE_OUT_COSMOS_CONNECTION_STRING: cosmos.settings.auth.kind === 'connectionString' ? cosmos.settings.auth.connectionString : '',
        SCALE_OUT_COSMOS_DATABASE: config.cosmos?.databaseName ?? '',
        SCALE_OUT_COSMOS_CONTAINER: config.cosmos?.containerName ?? '',
        SCALE_OUT_RUN_ID: run.id,
        SCALE_OUT_BATCH_SIZE: String(batchSize),
      };
      for (const share of shares.filter((parts) => parts.length > 0))
        started.push(startWorker({ ...env, SCALE_OUT_PARTS: share.join(',') }));
      await Promise.all(started.map((worker) => worker.ready));
      const stopwatch = await Stopwatch.create(databaseUrl);
      await stopwatch.start();
      const sampling = setInterval(() => sampler.sample(), 500);
      for (const worker of started) worker.go();
      const results = await Promise.all(started.map((worker) => worker.done));
      clearInterval(sampling);
      const elapsed = await stopwatch.stop();
      for (const worker of started) worker.release();

      const record = await findRun(prisma, run.id);
      if (record?.state !== 'completed' || record.processed !== loaded) {
        throw new Error(
          `scale-out: the run is ${record?.state ?? 'missing'} with ${record?.processed ?? 0} of ${loaded} documents processed`,
        );
      }
      const perWorker = results.map((result) => result.processed.toLocaleString('en-US')).join(' + ');
      const workerCpu = results.reduce((sum, result) => sum + result.cpuSeconds, 0);
      return {
        documents: record.processed,
        ...elapsed,
        notes:
          `${started.length} process(es) × ${shares[0]?.length ?? 0} of ${scope.parts.length} feed ranges: ${perWorker} docs; ` +
          `workers' CPU ${workerCpu.toFixed(1)} s (client CPU: the double); load average ${loadavg()[0]?.toFixed(1)} at the end`,
      };
    } finally {
      for (const worker of started) worker.stop();
      await prisma.$disconnect();
      await cosmos.stop();
    }
  };
}

function startWorker(env: Record<string, string>): Worker {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  let released = false;
  let signalReady: () => void = () => undefined;
  let report: (result: WorkerResult) => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  const reported = new Promise<WorkerResult>((resolve) => (report = resolve));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('close', (code) => reject(new Error(`a scale-out worker exited with code ${code} before reporting`)));
  });
  exited.catch(() => undefined);
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const lines = output.split('\n');
    if (lines.includes('ready')) signalReady();
    const result = lines.find((line) => line.startsWith('{'));
    if (result) report(JSON.parse(result) as WorkerResult);
  });
  return {
    // A worker that dies first fails the wait.
    ready: Promise.race([ready, exited]),
    done: Promise.race([reported, exited]),
    go: () => child.stdin?.write('go\n'),
    release: () => {
      released = true;
      child.stdin?.end();
    },
    stop: () => {
      if (!released && child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}
