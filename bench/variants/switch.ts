import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import type { WrittenLine } from '../../dev/service-writer/writer.js';
import type { AppConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { documentHash } from '../../shared/domain/document-hash.js';
import type { DocumentType } from '../../shared/domain/document-types.js';
import { rowToDocument } from '../../shared/domain/mapping.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { readRow } from '../../shared/postgres/prisma-repository.js';
import { runSwitch } from '../../shared/switch/run-switch.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import { runSync } from '../../shared/sync/sync-runner.js';
import { benchDocuments } from '../document-stream.js';
import type { VariantRun } from './variant.js';

const writerScript = fileURLToPath(new URL('../../dev/service-writer/service-writer.ts', import.meta.url));

/** Service instances, and the writes per second all of them make together. */
const instances = 4;
const writesPerSecond = 200;
/** How long the writers run, and when the switch starts within that. */
const runMs = 25_000;
const switchAtMs = 6_000;

/**
 * The switch to PostgreSQL under live traffic (`withSwitch`), or the same traffic without one: `instances` service
 * processes (dev/service-writer) write through RepositoryFactory at `writesPerSecond` together, while the sync
 * follows the change feed in this process (as the Functions app's trigger would). The double is loaded with
 * `documents`, fully migrated and reconciled first, untimed. Measured: every acknowledged write's call duration
 * (a write the fence holds waits inside its call), the writes made, and, after the switch, how many of the
 * documents written are in the new primary (PostgreSQL) with their last acknowledged version.
 */
export function switchUnderTraffic(withSwitch: boolean): VariantRun {
  return async ({ documents, databaseUrl }) => {
    const cosmos = await startLocalCosmosServer();
    const prisma = createPrismaClient(databaseUrl, 4);
    const writers: ChildProcess[] = [];
    try {
      const container = await cosmos.createDocumentsContainer();
      await loadDocuments(container, benchDocuments(documents));
      const config: AppConfig = {
        databaseUrl,
        poolSize: 4,
        usePostgres: false,
        dualDatabaseMode: true,
        migrationMode: true,
        cosmos: cosmos.settings,
      };
      const ctx: AppContext = { config, prisma, cosmos: container };
      await migrateAll(ctx, { batchSize: 1000 });
      await reconcile(ctx, { apply: true });

      const follow = new AbortController();
      const following = runSync(ctx, { mode: 'LatestVersion', pollIntervalMs: 250, signal: follow.signal }).catch(
        (error: unknown) => error,
      );
      const lines: WrittenLine[] = [];
      const env = {
        ...process.env,
        DATABASE_URL: databaseUrl,
        DATABASE_POOL_SIZE: '3',
        AZURE_COSMOSDB_CONNECTION_STRING: cosmos.settings.auth.kind === 'connectionString' ? cosmos.settings.auth.connectionString : '',
        AZURE_COSMOSDB_DATABASE_NAME: cosmos.settings.databaseName,
        AZURE_COSMOSDB_CONTAINER_NAME: cosmos.settings.containerName,
        AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
        DUAL_DATABASE_MODE: 'true',
        USE_POSTGRESQL: 'false',
      };
      for (let index = 0; index < instances; index += 1) writers.push(startWriter(`bench-${index}`, index + 1, env, lines));
      const started = Date.now();
      let pauseMs: number | undefined;
      if (withSwitch) {
        await sleep(switchAtMs);
        const result = await runSwitch(ctx, { target: 'postgresql', maxPauseMs: 30_000 });
        if (result.outcome !== 'completed') throw new Error(`the switch did not complete: ${JSON.stringify(result.readiness)}`);
        pauseMs = result.pauseMs;
      }
      await sleep(Math.max(0, runMs - (Date.now() - started)));
      await Promise.all(writers.map(stopWriter));
      const seconds = (Date.now() - started) / 1000;
      follow.abort();
      await following;

      const writes = lines.filter((line) => line.op !== 'retry' && line.op !== 'failed');
      const latencies = writes.map((line) => line.latencyMs ?? 0).sort((a, b) => a - b);
      const longest = latencies.at(-1) ?? 0;
      const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
      const found = withSwitch ? await foundInPostgres(ctx, writes) : undefined;
      const retried = lines.filter((line) => line.op === 'retry').length;
      const failed = lines.filter((line) => line.op === 'failed').length;
      return {
        documents: writes.length,
        seconds,
        notes:
          `${instances} instances, ${writesPerSecond} writes/s asked; longest write ${longest} ms, p99 ${p99} ms` +
          (pauseMs === undefined ? '' : `; writes held ${pauseMs} ms (fence to flip)`) +
          (found ? `; last acknowledged version in PostgreSQL: ${found.found} of ${found.documents} documents` : '') +
          `; ${retried} retried, ${failed} failed`,
        figures: {
          longestWriteMs: longest,
          p99WriteMs: p99,
          writes: writes.length,
          ...(pauseMs === undefined ? {} : { pauseMs }),
          ...(found ? { documentsWritten: found.documents, foundInNewPrimary: found.found } : {}),
        },
      };
    } finally {
      for (const writer of writers) if (writer.exitCode === null) writer.kill('SIGKILL');
      await prisma.$disconnect();
      await cosmos.stop();
    }
  };
}

function startWriter(name: string, seed: number, env: NodeJS.ProcessEnv, lines: WrittenLine[]): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', writerScript, '--name', name, '--rate', String(writesPerSecond / instances), '--seed', String(seed)],
    {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) {
      const parsed = JSON.parse(line) as WrittenLine | { op: 'done' };
      if (parsed.op !== 'done') lines.push(parsed);
    }
  });
  return child;
}

function stopWriter(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.stdin?.end();
  });
}

/** Of the documents each instance wrote alone, how many PostgreSQL holds at their last acknowledged version. */
async function foundInPostgres(ctx: AppContext, writes: readonly WrittenLine[]): Promise<{ documents: number; found: number }> {
  const last = new Map<string, WrittenLine>();
  for (const line of writes) if (!line.shared) last.set(`${line.pubkey}/${line.id}`, line);
  let found = 0;
  for (const line of last.values()) {
    const type = line.type as DocumentType;
    const row = await readRow(ctx.prisma, type, line.id as string, line.pubkey as string);
    const held = row ? documentHash(rowToDocument(type, row)) : undefined;
    if (held === (line.op === 'delete' ? undefined : line.hash)) found += 1;
  }
  return { documents: last.size, found };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
