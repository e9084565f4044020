import { type ChildProcess, spawn } from 'node:child_process';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalCosmosServer, startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { documentHash } from '../../shared/domain/document-hash.js';
import { type DocumentType, documentTypes } from '../../shared/domain/document-types.js';
import { rowToDocument } from '../../shared/domain/mapping.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { retryPendingSync } from '../../shared/mirror/pending-sync.js';
import { readStoredPhase } from '../../shared/postgres/phase-store.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import { runSync } from '../../shared/sync/sync-runner.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { createTestContainer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { baseEnv, projectRoot, spawnCli } from '../support/run-cli.js';
import { loadSource, sourceDocuments } from './fixtures/migration-source.js';

/**
 * The switch as it happens in production, as far as this machine can: three service processes write through
 * `RepositoryFactory` (creates, replaces and deletes of their own payments, and replaces of three accounts all of
 * them write), each reading the phase on its own one-second rhythm, so each sees every change of phase at its own
 * moment. The change-feed sync runs here, in the test's process, as the Functions app's trigger would (that
 * trigger and its leases cannot run here). `migrate:switch` runs as a real process, killed with SIGKILL right
 * after each of its steps in turn, and run again; it goes to PostgreSQL and back three times. At the end the two
 * databases hold the same documents and every acknowledged write is in the primary.
 */

type Doc = Record<string, unknown>;

interface Written {
  op: 'create' | 'update' | 'delete' | 'upsert' | 'retry' | 'failed' | 'done';
  type?: DocumentType;
  id?: string;
  pubkey?: string;
  hash?: string;
  writer: string;
  n?: number;
  ackAt?: number;
  latencyMs?: number;
  shared?: boolean;
}

let cosmos: LocalCosmosServer;
let db: TestDatabase;
let container: Container;
let ctx: AppContext;
const writers: Array<{ child: ChildProcess; lines: Written[] }> = [];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startLocalCosmosServer(), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  await loadSource(container, sourceDocuments(6, 17));
  ctx = {
    prisma: db.prisma,
    cosmos: container,
    config: loadConfig({ MIGRATION_MODE: 'true', DUAL_DATABASE_MODE: 'true', DATABASE_URL: db.url }),
  };
  await migrateAll(ctx, { batchSize: 200 });
  await reconcile(ctx, { apply: true });
});
afterAll(async () => {
  for (const writer of writers) writer.child.kill('SIGKILL');
  await Promise.all([db?.drop(), cosmos?.stop()]);
});

function environment(): Record<string, string | undefined> {
  return baseEnv({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.settings.auth.kind === 'connectionString' ? cosmos.settings.auth.connectionString : '',
    AZURE_COSMOSDB_DATABASE_NAME: container.database.id,
    AZURE_COSMOSDB_CONTAINER_NAME: container.id,
    AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
    DUAL_DATABASE_MODE: 'true',
    MIGRATION_MODE: 'true',
    DATABASE_POOL_SIZE: '3',
  });
}

function startWriter(name: string, seed: number): { child: ChildProcess; lines: Written[] } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'dev/service-writer/service-writer.ts', '--name', name, '--rate', '15', '--seed', String(seed)],
    {
      cwd: projectRoot,
      env: environment(),
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const writer = { child, lines: [] as Written[] };
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) if (line.trim() !== '') writer.lines.push(JSON.parse(line) as Written);
  });
  return writer;
}

const stepText = {
  'catch-up': /Catching up/,
  checks: /Readiness checked/,
  fenced: /Fence set/,
  settled: /Every process has seen the fence/,
  drained: /Drained up to the fence/,
  flipped: /Flipped/,
} as const;

/** Runs `migrate:switch`, SIGKILLed as soon as it prints `killAt`'s line (or run to its end). */
async function switchTo(to: 'postgresql' | 'cosmos', killAt?: keyof typeof stepText) {
  let killed = false;
  const result = await spawnCli('migrate', ['switch', '--to', to, '--max-pause', '8'], {
    env: environment(),
    deadlineMs: 120_000,
    onOutput: (running) => {
      if (killAt && !killed && stepText[killAt].test(running.stderr)) {
        killed = true;
        process.kill(running.pid, 'SIGKILL');
      }
    },
  });
  return { ...result, killed };
}

it('three service processes, the switch to PostgreSQL and back killed at each step and run again: nothing acknowledged is lost', async () => {
  const follow = new AbortController();
  const sync = runSync(ctx, { mode: 'LatestVersion', pollIntervalMs: 200, signal: follow.signal }).catch((error: unknown) => error);
  writers.push(startWriter('w1', 1), startWriter('w2', 2), startWriter('w3', 3));
  const kills: Array<[to: 'postgresql' | 'cosmos', killAt: keyof typeof stepText]> = [
    ['postgresql', 'catch-up'],
    ['cosmos', 'fenced'],
    ['postgresql', 'settled'],
    ['cosmos', 'drained'],
    ['postgresql', 'flipped'],
    ['cosmos', 'checks'],
  ];
  for (const [to, killAt] of kills) {
    await new Promise((resolve) => setTimeout(resolve, 700));
    const killedRun = await switchTo(to, killAt);
    expect(killedRun.killed, `${to}: the switch got to "${killAt}"\n${killedRun.stdout}\n${killedRun.stderr}`).toBe(true);
    const rerun = await switchTo(to);
    expect(rerun.code, `${to} after a kill at ${killAt}:\n${rerun.stdout}\n${rerun.stderr}`).toBe(0);
    expect((await readStoredPhase(db.prisma))?.phase).toBe(to === 'postgresql' ? 'postgresql-primary' : 'cosmos-primary');
  }
  await new Promise((resolve) => setTimeout(resolve, 700));
  for (const writer of writers) writer.child.stdin?.end();
  await Promise.all(writers.map((writer) => new Promise((resolve) => writer.child.once('close', resolve))));
  follow.abort();
  await sync;

  // Cosmos is primary again: whatever the mirror had left goes over, then the sync catches up.
  await retryPendingSync(ctx, { now: new Date(Date.now() + 3_600_000) });
  await runSync(ctx, { mode: 'LatestVersion', once: true });

  const acknowledged = writers.flatMap((writer) => writer.lines);
  expect(acknowledged.filter((line) => line.op === 'failed')).toEqual([]);
  expect(acknowledged.filter((line) => line.op === 'done')).toHaveLength(3);
  const writes = acknowledged.filter((line) => ['create', 'update', 'delete', 'upsert'].includes(line.op));
  expect(writes.length).toBeGreaterThan(100);

  // Each instance's own documents: the last acknowledged write of each is what both databases hold.
  const last = new Map<string, Written>();
  for (const write of writes.filter((line) => !line.shared)) last.set(`${write.pubkey}/${write.id}`, write);
  for (const write of last.values()) {
    const expected = write.op === 'delete' ? undefined : write.hash;
    expect(await hashInCosmos(write), `Cosmos, ${write.id} after ${write.op} #${write.n} of ${write.writer}`).toBe(expected);
    expect(await hashInPostgres(write), `PostgreSQL, ${write.id} after ${write.op} #${write.n} of ${write.writer}`).toBe(expected);
  }
  // The accounts all of them write: each ends at one of the versions acknowledged, the same on both sides.
  const shared = writes.filter((line) => line.shared);
  for (const pubkey of new Set(shared.map((write) => write.pubkey))) {
    const versions = new Set(shared.filter((write) => write.pubkey === pubkey).map((write) => write.hash));
    const first = shared.find((write) => write.pubkey === pubkey) as Written;
    const inCosmos = await hashInCosmos(first);
    expect(versions.has(inCosmos)).toBe(true);
    expect(await hashInPostgres(first)).toBe(inCosmos);
  }
  expect((await verifyAll(ctx)).consistent).toBe(true);
  // Every switch record is closed: each rerun completed its switch (a killed one it took over completes too), and a
  // killed one that had not fenced yet is recorded as stopped.
  const { rows } = await db.pool.query<{ state: string; finishedAt: Date | null }>('SELECT "state", "finishedAt" FROM "switches"');
  expect(rows.filter((row) => row.finishedAt === null)).toEqual([]);
  expect(rows.filter((row) => row.state === 'completed').length).toBeGreaterThanOrEqual(6);
  expect(rows.every((row) => row.state === 'completed' || row.state === 'failed')).toBe(true);
}, 420_000);

async function hashInCosmos(write: Written): Promise<string | undefined> {
  const { resource } = await container.item(write.id as string, write.pubkey).read<Doc>();
  return resource ? documentHash(resource) : undefined;
}

async function hashInPostgres(write: Written): Promise<string | undefined> {
  const type = write.type as DocumentType;
  const { rows } = await db.pool.query<Doc>(`SELECT * FROM "${documentTypes[type].table}" WHERE "id" = $1 AND "pubkey" = $2`, [
    write.id,
    write.pubkey,
  ]);
  return rows[0] ? documentHash(rowToDocument(type, rows[0])) : undefined;
}
