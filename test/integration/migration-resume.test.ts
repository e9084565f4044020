import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/env.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { loadSource, sourceDocuments, unaccounted } from './fixtures/migration-source.js';
import { snapshotTables } from './fixtures/migration-tables.js';

const child = fileURLToPath(new URL('./fixtures/migration-child.ts', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const batchSize = 40;

let cosmos: CosmosTestServer;
let container: Container;
let clean: TestDatabase;
let killed: TestDatabase;
let source: Array<Record<string, unknown>>;

beforeAll(async () => {
  [cosmos, clean, killed] = await Promise.all([startCosmosServer(), createTestDatabase(), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  // About 950 documents: 28 pages of 40, so each kill below (after 2, 5 and 9 pages) lands mid-run.
  source = await loadSource(container, sourceDocuments(90, 41));
});
afterAll(async () => {
  await Promise.all([clean?.drop(), killed?.drop(), cosmos?.stop()]);
});

interface ChildRun {
  /** Progress lines the child printed (one per committed page) before it ended. */
  pages: number;
  finished: boolean;
  signal: NodeJS.Signals | null;
}

/**
 * Runs the migration in a child process against `killed`; with `killAfterPages`, sends SIGKILL a few
 * milliseconds after that many pages were committed, while the next page is being read or written.
 */
function runChild(killAfterPages?: number, delayMs = 0): Promise<ChildRun> {
  const ca = cosmos.agent.options.ca;
  const process_ = spawn(process.execPath, ['--import', 'tsx', child], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: killed.url,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_CA_PEM: String(ca),
      COSMOS_DATABASE: container.database.id,
      COSMOS_CONTAINER: container.id,
      BATCH_SIZE: String(batchSize),
    },
  });
  let stderr = '';
  process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const run: ChildRun = { pages: 0, finished: false, signal: null };
  createInterface({ input: process_.stdout }).on('line', (line) => {
    if (line.startsWith('{"finished"')) run.finished = true;
    else run.pages += 1;
    if (killAfterPages !== undefined && run.pages === killAfterPages) setTimeout(() => process_.kill('SIGKILL'), delayMs);
  });
  return new Promise((resolve, reject) => {
    process_.on('error', reject);
    process_.on('exit', (code, signal) => {
      run.signal = signal;
      if (signal === null && code !== 0) reject(new Error(`migration child failed (${code}): ${stderr}`));
      else resolve(run);
    });
  });
}

describe('a migration killed with SIGKILL and started again', () => {
  it('ends in exactly the state of an uninterrupted run', { timeout: 180_000 }, async () => {
    const uninterrupted = await migrateAll(
      { prisma: clean.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true' }) },
      { batchSize },
    );
    expect(uninterrupted.processed).toBe(source.length);

    const kills: ChildRun[] = [];
    for (const [pages, delayMs] of [
      [2, 0],
      [5, 3],
      [9, 11],
    ] as const) {
      kills.push(await runChild(pages, delayMs));
    }
    for (const run of kills) expect(run).toMatchObject({ signal: 'SIGKILL', finished: false });
    const last = await runChild();
    expect(last.finished).toBe(true);

    expect(await snapshotTables(killed.pool)).toEqual(await snapshotTables(clean.pool));
    expect(await unaccounted(killed.pool, source)).toEqual({ missing: [], extra: 0 });
    // Every start continued the same run; its page checkpoints committed with the pages, so it counted each document once.
    const { rows } = await killed.pool.query('SELECT state, processed::int, written::int, quarantined::int FROM migration_runs');
    expect(rows).toEqual([
      { state: 'completed', processed: source.length, written: uninterrupted.written, quarantined: uninterrupted.quarantined },
    ]);
  });
});
