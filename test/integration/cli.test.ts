import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { type DocumentType, documentTypeNames, documentTypeOf } from '../../shared/domain/document-types.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * The migrate:* commands as users run them: child processes (`node --import tsx cli/migrate.ts`)
 * configured only through the environment, against a real PostgreSQL and the Cosmos-protocol server
 * over TLS. The server's throwaway certificate is trusted the standard Node way, NODE_EXTRA_CA_CERTS,
 * so TLS verification stays on in the CLI.
 */

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(projectRoot, 'cli/migrate.ts');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Only what the CLI needs; nothing of the developer's own environment (a DATABASE_URL, say) leaks in. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function runCli(
  args: string[],
  env: Record<string, string>,
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr, child);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const USERS = 25;

let db: TestDatabase;
let cosmos: CosmosTestServer;
let container: Container;
let certDir: string;
let configured: Record<string, string>;
/** Documents of each type as loaded into Cosmos. */
const loadedCounts = new Map<DocumentType, number>();
/** A user with an account, to verify. */
let someUser: string;

beforeAll(async () => {
  [db, cosmos] = await Promise.all([createTestDatabase(), startCosmosServer()]);
  container = await createTestContainer(cosmos.client);
  const documents = [...generateDataset({ users: USERS, seed: 11 })];
  for (const document of documents) {
    const type = documentTypeOf(document.type) as DocumentType;
    loadedCounts.set(type, (loadedCounts.get(type) ?? 0) + 1);
  }
  someUser = documents.find((document) => document.type === 'account')?.pubkey as string;
  const loaded = await loadDocuments(container, documents);
  expect(loaded.loaded).toBe(documents.length);

  certDir = await mkdtemp(path.join(tmpdir(), 'nostria-cli-test-'));
  const certFile = path.join(certDir, 'cosmos-ca.pem');
  await writeFile(certFile, String(cosmos.agent.options.ca));
  configured = {
    ...baseEnv(),
    NODE_EXTRA_CA_CERTS: certFile,
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: cosmos.connectionString,
    AZURE_COSMOSDB_DATABASE_NAME: container.database.id,
    AZURE_COSMOSDB_CONTAINER_NAME: container.id,
    MIGRATION_MODE: 'true',
  };
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([db?.drop(), cosmos?.stop(), certDir && rm(certDir, { recursive: true, force: true })]);
});

// Each case is its own process and touches nothing shared, so they run side by side.
describe.concurrent('--help', () => {
  const expectedOptions: Record<string, string[]> = {
    stats: ['--json'],
    'dry-run': ['--batch-size', '--max-ru', '--json'],
    accounts: ['--batch-size', '--skip-existing', '--dry-run', '--resume', '--max-ru', '--json'],
    user: ['<pubkey>', '--batch-size', '--skip-existing', '--dry-run', '--resume', '--max-ru', '--json'],
    verify: ['<pubkey>', '--all', '--repair', '--json'],
    full: ['--batch-size', '--skip-existing', '--resume', '--max-ru', '--repair', '--json'],
    incremental: ['--batch-size', '--dry-run', '--resume', '--max-ru', '--json'],
  };

  it.each(Object.entries(expectedOptions))(
    'migrate:%s --help exits 0 and describes its options, settings and exit codes',
    async (command, options) => {
      const result = await runCli([command, '--help'], baseEnv());
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`npm run migrate:${command}`);
      for (const option of options) expect(result.stdout).toContain(option);
      expect(result.stdout).toContain('DATABASE_URL');
      expect(result.stdout).toMatch(/Exit codes:[\s\S]*\b2\s+bad arguments/);
    },
  );
});

describe.concurrent('bad arguments exit 2 with a message naming the argument', () => {
  it.each([
    [['user', 'abc'], '<pubkey>'],
    [['verify', 'npub1sg6plzptd64u62a878hep2kev88swjh3tw00gjsfl8f237lmu63q0uf63m'], '<pubkey>'],
    [['user', `${'a'.repeat(63)}g`], '<pubkey>'],
    [['stats', '--bogus'], '--bogus'],
    [['accounts', '--batch-size', 'abc'], '--batch-size'],
    [['accounts', '--batch-size', '0'], '--batch-size'],
    [['full', '--max-ru', '-5'], '--max-ru'],
    [['accounts', '--dry-run', '--resume'], '--resume'],
    [['stats', 'extra'], 'extra'],
  ])('%j', async (args, named) => {
    // Configured, so a command that got past its arguments would run: exit 2 proves it did not.
    const result = await runCli(args, configured);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(named);
    expect(result.stdout).toBe('');
  });

  it('an unknown command', async () => {
    const result = await runCli(['migrate-everything'], baseEnv());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('migrate-everything');
  });
});

describe.concurrent('with nothing configured', () => {
  it.each(['stats', 'accounts', 'full', 'dry-run'])('migrate:%s names the missing settings and points at npm run demo', async (command) => {
    const result = await runCli([command], baseEnv());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL');
    expect(result.stderr).toContain('AZURE_COSMOSDB_CONNECTION_STRING');
    expect(result.stderr).toContain('npm run demo');
  });

  it('names only what is missing', async () => {
    const result = await runCli(['stats'], { ...baseEnv(), DATABASE_URL: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('DATABASE_URL');
    expect(result.stderr).toContain('AZURE_COSMOSDB_CONNECTION_STRING');
  });
});

describe('against a configured Cosmos container and PostgreSQL', () => {
  it('refuses to migrate without MIGRATION_MODE=true, and says so', async () => {
    const result = await runCli(['accounts'], { ...configured, MIGRATION_MODE: 'false' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('MIGRATION_MODE=true');
    expect(await db.prisma.account.count()).toBe(0);
  });

  it('dry-run classifies everything and writes nothing', async () => {
    const result = await runCli(['dry-run', '--json'], { ...configured, MIGRATION_MODE: 'false' });
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { state: string; run: { dryRun: boolean; processed: number; written: number } };
    const total = [...loadedCounts.values()].reduce((sum, count) => sum + count, 0);
    expect(output).toMatchObject({ state: 'completed', run: { dryRun: true, processed: total, written: total } });
    expect(await db.prisma.account.count()).toBe(0);
    expect(await db.prisma.migrationRun.count()).toBe(0);
  });

  it('stats --json has cosmos, postgres, quarantined and progress at the top', async () => {
    const result = await runCli(['stats', '--json'], configured);
    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(stats)).toEqual(expect.arrayContaining(['cosmos', 'postgres', 'quarantined', 'progress']));
    expect(stats.cosmos).toEqual(Object.fromEntries(documentTypeNames.map((type) => [type, loadedCounts.get(type) ?? 0])));
    expect(stats.postgres).toEqual(Object.fromEntries(documentTypeNames.map((type) => [type, 0])));
    expect(typeof stats.quarantined).toBe('number');
  });

  it('migrate:full migrates everything, verifies it, and exits 0', async () => {
    const result = await runCli(['full', '--batch-size', '50'], configured);
    expect(result.stderr).not.toContain('Error');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('=== Full migration ===');
    expect(result.stdout).toContain('Result: CONSISTENT');
    for (const type of documentTypeNames) {
      expect(await countRows(type), type).toBe(loadedCounts.get(type) ?? 0);
    }
    const stats = await runCli(['stats'], configured);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toContain('=== Migration Statistics ===');
    expect(stats.stdout).toContain('  Accounts: 100.0%');
  });

  it('migrate:verify <pubkey> exits 0 for a migrated user', async () => {
    const result = await runCli(['verify', someUser], configured);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`=== Verification: ${someUser} ===`);
    expect(result.stdout).toContain('Result: CONSISTENT');
  });

  it('a planted difference makes migrate:verify exit 1 and name the field; verify --all --repair fixes it', async () => {
    await db.pool.query('UPDATE accounts SET "lastLoginDate" = 42 WHERE pubkey = $1', [someUser]);

    const user = await runCli(['verify', someUser, '--json'], configured);
    expect(user.code).toBe(1);
    const report = JSON.parse(user.stdout) as { consistent: boolean; differences: Array<{ kind: string; path?: string }> };
    expect(report.consistent).toBe(false);
    expect(report.differences).toContainEqual(expect.objectContaining({ kind: 'different', path: 'lastLoginDate' }));

    const all = await runCli(['verify', '--all'], configured);
    expect(all.code).toBe(1);
    expect(all.stdout).toContain('DIFFERENCES FOUND');

    const repaired = await runCli(['verify', '--all', '--repair'], configured);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain('After the repair:');
    expect((await runCli(['verify', someUser], configured)).code).toBe(0);
  });

  it('re-running migrate:full changes nothing', async () => {
    const result = await runCli(['full', '--json'], configured);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { run: { written: number; unchanged: number }; verification: { consistent: boolean } };
    expect(output.run.written).toBe(0);
    expect(output.verification.consistent).toBe(true);
  });
});

describe('Ctrl-C', () => {
  let fresh: TestDatabase;
  beforeAll(async () => {
    fresh = await createTestDatabase();
  });
  afterAll(() => fresh?.drop());

  it('stops after the current batch, keeps the checkpoint, says how to resume; --resume finishes the same run', async () => {
    const env = { ...configured, DATABASE_URL: fresh.url };
    let signalled = false;
    // The first progress line comes before any page is written; a page of one document each leaves
    // hundreds of pages to go when the signal lands.
    const interrupted = await runCli(['full', '--batch-size', '1', '--json'], env, (stderr, child) => {
      if (!signalled && stderr.includes('Migrating: ')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('Resume with: npm run migrate:full -- --resume');
    const stopped = JSON.parse(interrupted.stdout) as { state: string; run: { runId: string; processed: number } };
    expect(stopped.state).toBe('interrupted');
    const total = [...loadedCounts.values()].reduce((sum, count) => sum + count, 0);
    expect(stopped.run.processed).toBeLessThan(total);

    const resumed = await runCli(['full', '--resume', '--json'], env);
    expect(resumed.code).toBe(0);
    const output = JSON.parse(resumed.stdout) as { run: { runId: string; processed: number }; verification: { consistent: boolean } };
    expect(output.run.runId).toBe(stopped.run.runId);
    expect(output.verification.consistent).toBe(true);
  }, 60_000);
});

async function countRows(type: DocumentType): Promise<number> {
  const tables: Record<DocumentType, string> = {
    account: 'accounts',
    'account-settings': 'user_settings',
    'backup-job': 'backup_jobs',
    payment: 'payments',
    'notification-subscription': 'notification_subscriptions',
    'notification-settings': 'notification_settings',
    'notification-log': 'notification_logs',
  };
  const { rows } = await db.pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${tables[type]}`);
  return Number(rows[0]?.count);
}
