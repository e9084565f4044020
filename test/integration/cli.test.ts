import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbMigrateCommand } from '../../cli/commands/db-migrate.js';
import { demoCommand } from '../../cli/commands/demo.js';
import { localCommand } from '../../cli/commands/local.js';
import { migrateCommands } from '../../cli/commands/migrate-commands.js';
import { pendingSyncCommand } from '../../cli/commands/pending-sync.js';
import { poisonCommand } from '../../cli/commands/poison.js';
import {
  quarantineListCommand,
  quarantineResolveCommand,
  quarantineRetryCommand,
  quarantineShowCommand,
} from '../../cli/commands/quarantine.js';
import { quarantineCommands } from '../../cli/commands/quarantine-commands.js';
import type { Command } from '../../cli/core/command.js';
import { freePort } from '../../dev/local-services/free-port.js';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { type LocalCosmosServer, startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { type DocumentType, documentTypeNames, documentTypeOf } from '../../shared/domain/document-types.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createEmptyDatabase, createTestDatabase, type EmptyTestDatabase, type TestDatabase } from '../support/postgres.js';
import { baseEnv, type Environment, runCli, spawnCli } from '../support/run-cli.js';

/**
 * The command line. Arguments, help, messages and the commands' work run in-process (`runCli`: the
 * command line layer with this test's argv, environment and captured output) against a real PostgreSQL
 * and the local Cosmos-protocol server over plain HTTP (as `npm run local` serves it, so endpoint
 * discovery is off). Only what needs a real process is spawned: Ctrl-C, and the entry point's exit code,
 * there over TLS with the server's throwaway certificate trusted the standard Node way (NODE_EXTRA_CA_CERTS).
 */

const USERS = 25;

let db: TestDatabase;
let cosmos: LocalCosmosServer;
let container: Container;
let configured: Environment;
/** Documents of each type as loaded into Cosmos. */
const loadedCounts = new Map<DocumentType, number>();
let loadedTotal = 0;
/** A user with an account, to verify. */
let someUser: string;

beforeAll(async () => {
  [db, cosmos] = await Promise.all([createTestDatabase(), startLocalCosmosServer()]);
  container = await createTestContainer(cosmos.client);
  const documents = [...generateDataset({ users: USERS, seed: 11 })];
  for (const document of documents) {
    const type = documentTypeOf(document.type) as DocumentType;
    loadedCounts.set(type, (loadedCounts.get(type) ?? 0) + 1);
  }
  loadedTotal = documents.length;
  someUser = documents.find((document) => document.type === 'account')?.pubkey as string;
  const loaded = await loadDocuments(container, documents);
  expect(loaded.loaded).toBe(documents.length);
  configured = baseEnv({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: `AccountEndpoint=${cosmos.endpoint};AccountKey=${Buffer.from('local').toString('base64')};`,
    AZURE_COSMOSDB_DATABASE_NAME: container.database.id,
    AZURE_COSMOSDB_CONTAINER_NAME: container.id,
    AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
    MIGRATION_MODE: 'true',
  });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([db?.drop(), cosmos?.stop()]);
});

const migrate = (name: string) => migrateCommands.get(name) as Command;

describe('--help', () => {
  // Options each command takes, as a person reads them in its help; nothing else may be listed.
  const expectedOptions: Array<[script: string, command: Command, options: string[]]> = [
    ['migrate:stats', migrate('stats'), ['--json']],
    ['migrate:dry-run', migrate('dry-run'), ['--batch-size', '--max-ru', '--json']],
    ['migrate:accounts', migrate('accounts'), ['--batch-size', '--skip-existing', '--dry-run', '--resume', '--max-ru', '--json']],
    ['migrate:user', migrate('user'), ['--batch-size', '--skip-existing', '--dry-run', '--resume', '--max-ru', '--json']],
    ['migrate:verify', migrate('verify'), ['--all', '--repair', '--batch-size', '--concurrency', '--max-ru', '--json']],
    ['migrate:full', migrate('full'), ['--batch-size', '--skip-existing', '--resume', '--max-ru', '--concurrency', '--repair', '--json']],
    ['migrate:incremental', migrate('incremental'), ['--batch-size', '--dry-run', '--resume', '--max-ru', '--concurrency', '--json']],
    ['migrate:sync', migrate('sync'), ['--mode', '--from', '--once', '--batch-size', '--max-ru', '--concurrency', '--json']],
    ['migrate:reconcile', migrate('reconcile'), ['--apply', '--resume', '--batch-size', '--max-ru', '--concurrency', '--json']],
    ['db:migrate', dbMigrateCommand, ['--builtin']],
    ['migrate:poison', poisonCommand, ['--replay', '--limit', '--json']],
    ['migrate:pending-sync', pendingSyncCommand, ['--now', '--json']],
    [
      'migrate:quarantine list',
      quarantineListCommand,
      ['--status', '--type', '--reason', '--user', '--older-than', '--newer-than', '--limit', '--after', '--json'],
    ],
    ['migrate:quarantine show', quarantineShowCommand, ['--json']],
    [
      'migrate:quarantine retry',
      quarantineRetryCommand,
      ['--status', '--type', '--reason', '--user', '--older-than', '--newer-than', '--max-ru', '--json'],
    ],
    ['migrate:quarantine resolve', quarantineResolveCommand, ['--note', '--by', '--json']],
    ['demo', demoCommand, ['--users', '--seed', '--batch-size']],
    ['local', localCommand, ['--users', '--seed']],
  ];

  it.each(expectedOptions)(
    '%s --help: usage, its options only, settings, and exit codes 0, 1, 2 and 130',
    async (script, command, options) => {
      const result = await runCli(command, ['--help']);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      const help = result.stdout;
      expect(help).toContain(`Usage: npm run ${script}`);
      const listed = [...help.matchAll(/^ {2}(?:-h, )?(--[a-z-]+)/gm)].map((match) => match[1]);
      expect(listed).toEqual(['--help', ...options]);
      expect(help).toMatch(/^Settings/m);
      for (const code of ['0', '1', '2', '130']) expect(help).toMatch(new RegExp(`^ {2}${code} +\\S`, 'm'));
      expect(help).toMatch(/^ {2}2 +bad arguments/m);
    },
  );

  it('migrate.ts --help lists every migrate:* command', async () => {
    const result = await runCli('migrate', ['--help']);
    expect(result.code).toBe(0);
    for (const command of migrateCommands.values()) expect(result.stdout).toContain(command.script);
  });

  it('quarantine.ts --help lists its subcommands; none or an unknown one exits 2 with the list', async () => {
    const help = await runCli('quarantine', ['--help']);
    expect(help.code).toBe(0);
    for (const name of quarantineCommands.keys()) expect(help.stdout).toMatch(new RegExp(`^ {2}${name}\\b`, 'm'));
    const none = await runCli('quarantine', []);
    expect(none).toMatchObject({ code: 2, stderr: expect.stringContaining('No subcommand given') });
    const unknown = await runCli('quarantine', ['purge']);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown subcommand "purge"') });
  });
});

describe('bad arguments exit 2 with a plain message naming the argument, before anything is touched', () => {
  it.each([
    [['user', 'abc'], 'migrate:user: <pubkey>: expected a 64-character hex public key, got "abc"'],
    [['verify', 'npub1sg6plzptd64u62a878hep2kev88swjh3tw00gjsfl8f237lmu63q0uf63m'], 'an npub is bech32'],
    [['user', `${'a'.repeat(63)}g`], 'migrate:user: <pubkey>: expected a 64-character hex public key'],
    [['stats', '--bogus'], 'migrate:stats: --bogus: unknown option (this command takes --help, --json)'],
    [['full', '--dry-run'], 'migrate:full: --dry-run: unknown option'],
    [['accounts', '--batch-size', 'abc'], 'migrate:accounts: --batch-size: expected a whole number from 1 to 5000, got "abc"'],
    [['accounts', '--batch-size', '0'], 'migrate:accounts: --batch-size: expected a whole number from 1 to 5000, got "0"'],
    [['accounts', '--batch-size', '-5'], 'migrate:accounts: --batch-size: expected a whole number from 1 to 5000, got "-5"'],
    [['accounts', '--batch-size'], 'migrate:accounts: --batch-size: missing value; expected <n>'],
    [['full', '--max-ru', '-5'], 'migrate:full: --max-ru: expected a positive number of request units per second, got "-5"'],
    [['full', '--max-ru=-5'], 'migrate:full: --max-ru: expected a positive number of request units per second, got "-5"'],
    [['accounts', '--json=yes'], 'migrate:accounts: --json: takes no value, got "yes"'],
    [['accounts', '--dry-run', '--resume'], 'migrate:accounts: --resume: a dry run keeps no checkpoint to resume'],
    [['verify', '--repair', someUserPlaceholder()], 'migrate:verify: --repair: only with --all'],
    [['stats', 'extra'], 'migrate:stats: "extra": unexpected argument'],
  ])('migrate %j', async (args, message) => {
    // Configured, so a command that got past its arguments would run: exit 2 and no output prove it did not.
    const result = await runCli('migrate', args, configured);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('for usage.');
    expect(result.stdout).toBe('');
  });

  it.each([
    [demoCommand.script, demoCommand, ['--users', 'many'], 'demo: --users: expected a whole number from 1 to 1,000,000, got "many"'],
    [demoCommand.script, demoCommand, ['--users', '-3'], 'demo: --users: expected a whole number from 1 to 1,000,000, got "-3"'],
    [localCommand.script, localCommand, ['--seed', '1.5'], 'local: --seed: expected a whole number from 0 to 4,294,967,295, got "1.5"'],
    [
      poisonCommand.script,
      poisonCommand,
      ['--limit', '-1'],
      'migrate:poison: --limit: expected a whole number from 1 to 1,000,000, got "-1"',
    ],
    [
      pendingSyncCommand.script,
      pendingSyncCommand,
      ['--frobnicate'],
      'migrate:pending-sync: --frobnicate: unknown option (this command takes --help, --now, --json)',
    ],
    [dbMigrateCommand.script, dbMigrateCommand, ['--force'], 'db:migrate: --force: unknown option (this command takes --help, --builtin)'],
  ] as const)('%s %j', async (_script, command, args, message) => {
    const result = await runCli(command, args, configured);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
  });

  it('an unknown command, and none', async () => {
    const unknown = await runCli('migrate', ['migrate-everything']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "migrate-everything"');
    expect((await runCli('migrate', [])).code).toBe(2);
  });
});

describe('with nothing configured', () => {
  it.each(['stats', 'accounts', 'full', 'dry-run'])('migrate:%s names every missing setting and points at npm run demo', async (name) => {
    const result = await runCli('migrate', [name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL: required');
    expect(result.stderr).toContain('AZURE_COSMOSDB_CONNECTION_STRING or AZURE_COSMOSDB_ENDPOINT');
    expect(result.stderr).toContain('npm run demo');
    expect(result.stderr).toContain('npm run local');
  });

  it.each([
    [dbMigrateCommand.script, dbMigrateCommand, ['DATABASE_URL: required']],
    [poisonCommand.script, poisonCommand, ['AzureWebJobsStorage or AzureWebJobsStorage__accountName']],
    [pendingSyncCommand.script, pendingSyncCommand, ['DATABASE_URL: required', 'AZURE_COSMOSDB_CONNECTION_STRING']],
  ] as const)('%s names what it needs and points at npm run demo', async (_script, command, settings) => {
    const result = await runCli(command, []);
    expect(result.code).toBe(1);
    for (const setting of settings) expect(result.stderr).toContain(setting);
    expect(result.stderr).toContain('npm run demo');
  });

  it('reports every problem at once, malformed and missing alike, naming settings, never values', async () => {
    const result = await runCli(
      'migrate',
      ['stats'],
      baseEnv({ DATABASE_POOL_SIZE: 'lots', AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'maybe', MIGRATION_MODE: 'perhaps' }),
    );
    expect(result.code).toBe(1);
    for (const problem of [
      'DATABASE_POOL_SIZE: expected a whole number from 1 to 100',
      'MIGRATION_MODE: expected true or false',
      'AZURE_COSMOSDB_ENDPOINT_DISCOVERY: expected true or false',
      'DATABASE_URL: required',
      'AZURE_COSMOSDB_CONNECTION_STRING or AZURE_COSMOSDB_ENDPOINT: one is required',
    ]) {
      expect(result.stderr).toContain(problem);
    }
    expect(result.stderr).not.toMatch(/lots|maybe|perhaps/);
  });

  it('names only what is missing', async () => {
    const result = await runCli('migrate', ['stats'], baseEnv({ DATABASE_URL: db.url }));
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('DATABASE_URL');
    expect(result.stderr).toContain('AZURE_COSMOSDB_CONNECTION_STRING');
  });
});

describe('errors a person can act on', () => {
  let empty: EmptyTestDatabase;
  beforeAll(async () => {
    empty = await createEmptyDatabase();
  });
  afterAll(() => empty?.drop());

  /** No source path, no code frame, no stack: what Prisma and the drivers put in their messages stays out. */
  const expectNoLibraryInternals = (text: string) => {
    expect(text).not.toMatch(/\.(ts|js|mjs):\d+/);
    expect(text).not.toMatch(/invocation|→|\n\s+at /);
  };

  it('a database without the schema says to run npm run db:migrate, in text and JSON', async () => {
    const env = { ...configured, DATABASE_URL: empty.url };
    const text = await runCli('migrate', ['stats'], env);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^migrate:stats: PostgreSQL has no table "[a-z_.]+": apply the schema first with npm run db:migrate$/m);
    expectNoLibraryInternals(text.stderr);
    const json = await runCli('migrate', ['stats', '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ code: 'SCHEMA_MISSING', error: expect.stringContaining('npm run db:migrate') });
    expectNoLibraryInternals(json.stdout);
  });

  it('a Cosmos DB that does not answer is named, with its endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}/`;
    const env = { ...configured, AZURE_COSMOSDB_CONNECTION_STRING: `AccountEndpoint=${endpoint};AccountKey=c2VjcmV0;` };
    const result = await runCli('migrate', ['verify', '--all', '--json'], env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      code: 'DATABASE_UNREACHABLE',
      error: expect.stringContaining(`Cosmos DB at ${endpoint} did not answer: connection refused`),
    });
    expect(result.stdout + result.stderr).not.toContain('c2VjcmV0');
    expectNoLibraryInternals(result.stderr);
  });

  it('a PostgreSQL that does not answer is named, with its host, port and database but not its password', async () => {
    const port = await freePort();
    const env = { ...configured, DATABASE_URL: `postgresql://someone:hunter2@127.0.0.1:${port}/nostria` };
    const result = await runCli('migrate', ['stats'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`migrate:stats: PostgreSQL at 127.0.0.1:${port}/nostria did not answer`);
    expect(result.stderr).not.toContain('hunter2');
    expectNoLibraryInternals(result.stderr);
  });
});

describe('against a configured Cosmos container and PostgreSQL', () => {
  it('refuses to migrate without MIGRATION_MODE=true, and says so', async () => {
    const result = await runCli('migrate', ['accounts'], { ...configured, MIGRATION_MODE: 'false' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('MIGRATION_MODE=true');
    expect(await db.prisma.account.count()).toBe(0);
  });

  it('--resume with nothing to resume says so and starts nothing', async () => {
    const result = await runCli('migrate', ['accounts', '--resume'], configured);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('There is no interrupted or failed migrate:accounts run to resume');
    expect(await db.prisma.migrationRun.count()).toBe(0);
  });

  it('dry-run classifies everything and writes nothing', async () => {
    const result = await runCli('migrate', ['dry-run', '--json'], { ...configured, MIGRATION_MODE: 'false' });
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { state: string; run: { dryRun: boolean; processed: number; written: number } };
    expect(output).toMatchObject({ state: 'completed', run: { dryRun: true, processed: loadedTotal, written: loadedTotal } });
    expect(await db.prisma.account.count()).toBe(0);
    expect(await db.prisma.migrationRun.count()).toBe(0);
  });

  it('stats --json has cosmos, postgres, quarantined and progress at the top', async () => {
    const result = await runCli('migrate', ['stats', '--json'], configured);
    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(stats)).toEqual(expect.arrayContaining(['cosmos', 'postgres', 'quarantined', 'progress']));
    expect(stats.cosmos).toEqual(Object.fromEntries(documentTypeNames.map((type) => [type, loadedCounts.get(type) ?? 0])));
    expect(stats.postgres).toEqual(Object.fromEntries(documentTypeNames.map((type) => [type, 0])));
    expect(typeof stats.quarantined).toBe('number');
  });

  it('migrate:full migrates everything, verifies it, and exits 0; its progress adds up', async () => {
    const result = await runCli('migrate', ['full', '--batch-size', '50'], configured);
    expect(result.stderr).not.toContain('Error');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('=== Full migration ===');
    expect(result.stdout).toContain('Result: CONSISTENT');
    for (const type of documentTypeNames) {
      expect(await countRows(type), type).toBe(loadedCounts.get(type) ?? 0);
    }
    // The last progress line: outcomes add up to the documents read, and so do the counts per feed range.
    const last = [...result.stderr.matchAll(/^Migrating: ([\d,]+) of [\d,]+ \([\d.]+%\): (.*) \| by feed range: (.*)$/gm)].at(-1);
    expect(last).toBeDefined();
    const [, done, outcomes, byRange] = last as RegExpMatchArray;
    const sum = (text: string) => [...text.matchAll(/([\d,]+)/g)].reduce((total, match) => total + Number(match[1]?.replace(/,/g, '')), 0);
    expect(Number(done?.replace(/,/g, ''))).toBe(loadedTotal);
    expect(sum(outcomes as string)).toBe(loadedTotal);
    // The local Cosmos DB double has four physical partitions: one part each, named by its bounds.
    const perRange = [...(byRange as string).matchAll(/range [0-9A-F]{4}-[0-9A-F]{4} ([\d,]+)/g)].map((match) => match[1] as string);
    expect(perRange).toHaveLength(4);
    expect(sum(perRange.join(' '))).toBe(loadedTotal);

    const stats = await runCli('migrate', ['stats'], configured);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toContain('=== Migration Statistics ===');
    expect(stats.stdout).toContain('  Accounts: 100.0%');
    expect(stats.stdout).toMatch(/^Last run: full completed/m);
  });

  it('migrate:verify <pubkey> exits 0 for a migrated user', async () => {
    const result = await runCli('migrate', ['verify', someUser], configured);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`=== Verification: ${someUser} ===`);
    expect(result.stdout).toContain('Result: CONSISTENT');
  });

  it('a planted difference makes migrate:verify exit 1 and name the field; verify --all --repair fixes it', async () => {
    await db.pool.query('UPDATE accounts SET "lastLoginDate" = 42 WHERE pubkey = $1', [someUser]);

    const user = await runCli('migrate', ['verify', someUser, '--json'], configured);
    expect(user.code).toBe(1);
    const report = JSON.parse(user.stdout) as { consistent: boolean; differences: Array<{ kind: string; path?: string }> };
    expect(report.consistent).toBe(false);
    expect(report.differences).toContainEqual(expect.objectContaining({ kind: 'different', path: 'lastLoginDate' }));

    const all = await runCli('migrate', ['verify', '--all'], configured);
    expect(all.code).toBe(1);
    expect(all.stdout).toContain('DIFFERENCES FOUND');

    const repaired = await runCli('migrate', ['verify', '--all', '--repair'], configured);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain('After the repair:');
    expect((await runCli('migrate', ['verify', someUser], configured)).code).toBe(0);
  });

  it('re-running migrate:full changes nothing', async () => {
    const result = await runCli('migrate', ['full', '--json'], configured);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { run: { written: number; unchanged: number }; verification: { consistent: boolean } };
    expect(output.run.written).toBe(0);
    expect(output.verification.consistent).toBe(true);
  });
});

describe('the real entry point, over TLS: Ctrl-C, and the exit codes it ends with', () => {
  let tlsCosmos: CosmosTestServer;
  let fresh: TestDatabase;
  let certDir: string;
  let env: Environment;
  beforeAll(async () => {
    [tlsCosmos, fresh] = await Promise.all([startCosmosServer(), createTestDatabase()]);
    const tlsContainer = await createTestContainer(tlsCosmos.client);
    await loadDocuments(tlsContainer, generateDataset({ users: USERS, seed: 11 }));
    certDir = await mkdtemp(path.join(tmpdir(), 'nostria-cli-test-'));
    const certFile = path.join(certDir, 'cosmos-ca.pem');
    await writeFile(certFile, String(tlsCosmos.agent.options.ca));
    env = baseEnv({
      NODE_EXTRA_CA_CERTS: certFile,
      DATABASE_URL: fresh.url,
      AZURE_COSMOSDB_CONNECTION_STRING: tlsCosmos.connectionString,
      AZURE_COSMOSDB_DATABASE_NAME: tlsContainer.database.id,
      AZURE_COSMOSDB_CONTAINER_NAME: tlsContainer.id,
      MIGRATION_MODE: 'true',
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([fresh?.drop(), tlsCosmos?.stop(), certDir && rm(certDir, { recursive: true, force: true })]);
  });

  it('Ctrl-C stops after the current batch, records the run as interrupted, says how to resume; --resume finishes it', async () => {
    let signalled = false;
    // The first progress line comes before any page is written; a page of one document each leaves
    // hundreds of pages to go when the signal lands.
    const interrupted = await spawnCli('migrate', ['full', '--batch-size', '1', '--json'], {
      env,
      onOutput: (running) => {
        if (!signalled && running.stderr.includes('Migrating: ')) {
          signalled = true;
          running.interrupt();
        }
      },
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('Ctrl-C: stopping at the next safe point');
    expect(interrupted.stderr).toContain('Resume with: npm run migrate:full -- --resume');
    const stopped = JSON.parse(interrupted.stdout) as { state: string; run: { runId: string; processed: number } };
    expect(stopped.state).toBe('interrupted');
    expect(stopped.run.processed).toBeLessThan(loadedTotal);
    const run = await fresh.prisma.migrationRun.findUniqueOrThrow({ where: { id: stopped.run.runId } });
    expect(run.state).toBe('interrupted');
    // No progress is drawn after the announcement.
    const afterAnnouncement = interrupted.stderr.slice(interrupted.stderr.indexOf('Ctrl-C: stopping'));
    expect(afterAnnouncement).not.toMatch(/^Migrating: /m);

    // In-process, NODE_EXTRA_CA_CERTS is not read (Node reads it at start): the ledger is read with the HTTP container.
    const stats = await runCli('migrate', ['stats'], { ...configured, DATABASE_URL: fresh.url });
    expect(stats.stdout).toMatch(/^Last run: full interrupted/m);

    const resumed = await spawnCli('migrate', ['full', '--resume', '--json'], { env });
    expect(resumed.code).toBe(0);
    const output = JSON.parse(resumed.stdout) as { run: { runId: string; processed: number }; verification: { consistent: boolean } };
    expect(output.run.runId).toBe(stopped.run.runId);
    expect(output.run.processed).toBe(loadedTotal);
    expect(output.verification.consistent).toBe(true);
  }, 90_000);
});

/** A well-formed pubkey for argument checks that must fail on something else. */
function someUserPlaceholder(): string {
  return 'ab'.repeat(32);
}

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
