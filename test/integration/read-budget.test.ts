import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseRecord } from '../../dev/cosmos-double/index.js';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * ONE request-unit budget held by two processes at once. Two full loads run side by side, each in a
 * process of its own with the same `maxRequestUnitsPerSecond`, against the same PostgreSQL (where the
 * shared bucket lives) and the same Cosmos container, each wanting far more than the budget. What the
 * Cosmos double charged for every request of that container, by the time it arrived, must come to the
 * budget within 10% over a 30-second window in the middle of the run.
 *
 * It prints the figure it measured (`budget: 64 RU/s, observed … RU/s over 30 s (ratio …)`).
 */

const child = fileURLToPath(new URL('./fixtures/migration-child.ts', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const budget = 64;
const windowSeconds = 30;
const warmUpSeconds = 3;

let cosmos: CosmosTestServer;
let container: Container;
let db: TestDatabase;
const responses: ResponseRecord[] = [];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startCosmosServer({ onResponse: (record) => responses.push(record) }), createTestDatabase()]);
  container = await createTestContainer(cosmos.client);
  // About 1,600 documents, some 1,250 RU to read through the change feed (0.8 RU a document on the double):
  // at half the budget each, both loads take some 40 s, past the window's end.
  const { loaded } = await loadDocuments(container, generateDataset({ users: 185, seed: 5 }));
  expect(loaded).toBeGreaterThan(1500);
});
afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
});

/** A full load in a child process under the shared budget; resolves with when it ended. */
function load(): Promise<number> {
  const process_ = spawn(process.execPath, ['--import', 'tsx', child], {
    cwd: projectRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_CA_PEM: String(cosmos.agent.options.ca),
      COSMOS_DATABASE: container.database.id,
      COSMOS_CONTAINER: container.id,
      BATCH_SIZE: '20',
      MAX_RU: String(budget),
      RESUME: 'false',
    },
  });
  let stderr = '';
  process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    process_.on('error', reject);
    process_.on('exit', (code) => (code === 0 ? resolve(Date.now()) : reject(new Error(`load failed (${code}): ${stderr}`))));
  });
}

describe('the shared request-unit budget', () => {
  it(`holds two processes together to ${budget} RU/s within 10% over ${windowSeconds} s`, { timeout: 180_000 }, async () => {
    const since = responses.length;
    const ended = await Promise.all([load(), load()]);
    const charged = responses.slice(since).filter((record) => record.containerId === container.id);
    const start = (charged[0]?.receivedAt ?? 0) + warmUpSeconds * 1000;
    const end = start + windowSeconds * 1000;
    // Both loads were still reading when the window closed: it measures the two of them together.
    expect(Math.min(...ended)).toBeGreaterThan(end);
    const inWindow = charged.filter((record) => record.receivedAt >= start && record.receivedAt < end);
    const perSecond = inWindow.reduce((total, record) => total + record.requestCharge, 0) / windowSeconds;
    console.log(
      `budget: ${budget} RU/s, observed ${perSecond.toFixed(1)} RU/s over ${windowSeconds} s (ratio ${(perSecond / budget).toFixed(3)})`,
    );
    expect(perSecond).toBeGreaterThanOrEqual(budget * 0.9);
    expect(perSecond).toBeLessThanOrEqual(budget * 1.1);
    const { rows } = await db.pool.query<{ state: string }>('SELECT state FROM migration_runs');
    expect(rows).toEqual([{ state: 'completed' }, { state: 'completed' }]);
  });
});
