import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CosmosDouble, startCosmosDouble } from '../../dev/cosmos-double/index.js';
import { buildLibrary, type LibraryReport } from '../../scripts/build-library.js';
import { createTestContainer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/*
 * The package entry `nostria-migrate/repositories` as the Nostria service gets it: built (scripts/build-library.ts)
 * into a package folder laid out as npm installs a dependency (node_modules/nostria-migrate, with package.json
 * `exports`), then the example (examples/service-swap/example.mjs) run by plain `node` in a separate process,
 * outside Vitest, once per database, with nothing but the settings the README names.
 */

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const example = path.join(projectRoot, 'examples', 'service-swap', 'example.mjs');

let workDir: string;
let appDir: string;
let library: LibraryReport;
let db: TestDatabase;
let cosmos: CosmosDouble;
let container: Container;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'nostria-library-'));
  const packageDir = path.join(workDir, 'node_modules', 'nostria-migrate');
  library = await buildLibrary({ outDir: path.join(packageDir, 'dist', 'lib') });
  const root = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const manifest = { name: root.name, version: root.version, type: root.type, exports: root.exports, dependencies: root.dependencies };
  await writeFile(path.join(packageDir, 'package.json'), JSON.stringify(manifest, null, 2));
  // The package's dependencies, where npm would have installed them for it; and the app's type definitions for Node.
  await symlink(path.join(projectRoot, 'node_modules'), path.join(packageDir, 'node_modules'), 'dir');
  await symlink(path.join(projectRoot, 'node_modules', '@types'), path.join(workDir, 'node_modules', '@types'), 'dir');
  appDir = path.join(workDir, 'app');
  await mkdir(appDir);
  await writeFile(path.join(appDir, 'package.json'), JSON.stringify({ name: 'service', private: true, type: 'module' }));
  await copyFile(example, path.join(appDir, 'example.mjs'));

  // Plain HTTP: the example's process trusts only the certificates Node ships with, as the service's would.
  [db, cosmos] = await Promise.all([
    createTestDatabase(),
    startCosmosDouble({ protocol: 'http', databaseName: 'ServiceDB', containerName: 'Documents' }),
  ]);
  container = await createTestContainer(cosmos.client, { databaseName: 'ServiceDB', containerName: 'Documents' });
}, 120_000);

afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs node with `args` in `cwd`, asynchronously: the Cosmos double answering the child lives in this process. */
function runNode(args: string[], cwd: string, env: Record<string, string>): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** Runs the example by plain node in the service's folder, with only PATH and `settings` in its environment. */
async function runExample(settings: Record<string, string>, pubkey: string, username: string): Promise<Record<string, unknown>> {
  const child = await runNode(['example.mjs', pubkey, username], appDir, { PATH: process.env.PATH ?? '', ...settings });
  expect(child.code, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
}

const pubkeyOf = (digit: string) => digit.repeat(64);

/** What the example prints when every call behaved as the service expects. */
const expected = (usePostgres: boolean, pubkey: string) => ({
  usePostgres,
  id: `account-${pubkey}`,
  usernameWasTaken: false,
  usernameTakenNow: true,
  foundByUsername: true,
  loggedIn: true,
  premium: true,
  betaUsers: true,
  jobStatus: 'in_progress',
  missingJob: 'DOCUMENT_NOT_FOUND',
  notificationsToday: 1,
});

describe('the built package entry nostria-migrate/repositories', () => {
  it('is one module and its declarations, importing none of the Functions app, the CLI or a devDependency', () => {
    expect(library.files.map((file) => file.file)).toEqual(expect.arrayContaining(['repositories.js', 'types/repositories/index.d.ts']));
    expect(library.externalImports).toEqual(expect.arrayContaining(['@azure/cosmos', '@prisma/client', 'zod']));
    expect(library.externalImports).not.toContain('@azure/functions');
    expect(library.externalImports).not.toContain('cli-progress');
  });

  it('runs the example against Cosmos DB (USE_POSTGRESQL=false): the documents are in Cosmos, not in PostgreSQL', async () => {
    const pubkey = pubkeyOf('a');
    const output = await runExample(
      {
        USE_POSTGRESQL: 'false',
        AZURE_COSMOSDB_CONNECTION_STRING: cosmos.connectionString,
        AZURE_COSMOSDB_DATABASE_NAME: 'ServiceDB',
        AZURE_COSMOSDB_CONTAINER_NAME: 'Documents',
      },
      pubkey,
      'Cosmos-User',
    );
    expect(output).toEqual(expected(false, pubkey));
    const { resource } = await container.item(`account-${pubkey}`, pubkey).read<{ username: string }>();
    expect(resource?.username).toBe('Cosmos-User');
    expect(await db.prisma.account.count({ where: { pubkey } })).toBe(0);
  });

  it('runs the same example against PostgreSQL (USE_POSTGRESQL=true): the documents are in PostgreSQL, not in Cosmos', async () => {
    const pubkey = pubkeyOf('b');
    const output = await runExample({ USE_POSTGRESQL: 'true', DATABASE_URL: db.url }, pubkey, 'Postgres-User');
    expect(output).toEqual(expected(true, pubkey));
    expect(await db.prisma.account.findUnique({ where: { pubkey }, select: { username: true } })).toEqual({ username: 'Postgres-User' });
    expect(await db.prisma.backupJob.count({ where: { pubkey } })).toBe(1);
    const { resource } = await container.item(`account-${pubkey}`, pubkey).read();
    expect(resource).toBeUndefined();
  });

  it("type-checks the example against the package's declarations, as a TypeScript service would", async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    // skipLibCheck, as services compile: the declarations are still what the example is checked against.
    const flags = [
      '--noEmit',
      '--allowJs',
      '--checkJs',
      '--strict',
      '--skipLibCheck',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
    ];
    const check = (file: string) => runNode([tsc, ...flags, '--types', 'node', file], appDir, { PATH: process.env.PATH ?? '' });
    const checked = await check('example.mjs');
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    // The check is real: a generic method the service's account repository does not have is refused.
    await writeFile(
      path.join(appDir, 'wrong.mjs'),
      "// @ts-check\nimport RepositoryFactory from 'nostria-migrate/repositories';\nawait " +
        "RepositoryFactory.getAccountRepository().getById('id', 'pubkey');\n",
    );
    const wrong = await check('wrong.mjs');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toMatch(/Property 'getById' does not exist on type 'AccountRepository'/);
  }, 60_000);
});
