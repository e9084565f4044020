import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runMigrate } from '../../cli/commands/migrate-commands.js';
import { runQuarantine } from '../../cli/commands/quarantine-commands.js';
import type { Command } from '../../cli/core/command.js';
import { runCommandLine } from '../../cli/core/run-command-line.js';

/**
 * The one way tests run the command line. In-process (`runCli`): the command line layer called with
 * the test's argv, environment and captured streams, which is how arguments, help, messages and most
 * commands are tested without paying for a TypeScript loader per case. As a real process (`spawnCli`):
 * `node --import tsx cli/<entry>.ts`, for what only a process shows: the entry point's exit code and Ctrl-C.
 */

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  /** The exit code (null if a signal ended the process). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export type Environment = Record<string, string | undefined>;

/** Only what a process needs to start; nothing of the developer's own environment (a DATABASE_URL, say) leaks in. */
export function baseEnv(extra: Environment = {}): Environment {
  const env: Environment = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return { ...env, ...extra };
}

/** A stream that keeps what is written to it. */
class Capture extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/**
 * Runs a command line in this process: `command` is a command of the layer, or `'migrate'` for
 * `cli/migrate.ts` and `'quarantine'` for `cli/quarantine.ts` (whose first argument names the command). Ctrl-C never reaches it: its signal
 * source is an emitter nobody fires.
 */
export async function runCli(
  command: Command | 'migrate' | 'quarantine',
  argv: readonly string[],
  env: Environment = baseEnv(),
): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const context = {
    argv,
    env,
    stdout,
    stderr,
    signals: new EventEmitter(),
    exit: () => {
      throw new Error('a command run in-process tried to leave the process');
    },
  };
  const code =
    command === 'migrate'
      ? await runMigrate(context)
      : command === 'quarantine'
        ? await runQuarantine(context)
        : await runCommandLine(command, context);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The entry points in cli/. */
export type CliEntry = 'migrate' | 'db-migrate' | 'poison' | 'pending-sync' | 'quarantine' | 'demo' | 'local';

export interface RunningCli {
  pid: number;
  /** Output so far. */
  stdout: string;
  stderr: string;
  /** Ctrl-C as a terminal sends it: SIGINT to the whole process group (local PostgreSQL servers included). */
  pressCtrlC(): void;
  /** SIGINT to the command's process alone, as `kill -INT <pid>` does. */
  interrupt(): void;
}

export interface SpawnOptions {
  env: Environment;
  /** Called whenever output arrives, with everything so far. */
  onOutput?: (running: RunningCli) => void;
  /**
   * If the command has not exited by then, its process group is killed and the call fails with what it printed:
   * a hang then says where it stopped, where a test's own timeout would say nothing.
   */
  deadlineMs?: number;
}

/**
 * Runs `cli/<entry>.ts` as users do, in a process group of its own (so `pressCtrlC` reaches what it
 * started, and nothing of the test's), and resolves when it has exited.
 */
export function spawnCli(entry: CliEntry, args: readonly string[], options: SpawnOptions): Promise<CliResult & { pid: number }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', `cli/${entry}.ts`, ...args], {
      cwd: projectRoot,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid;
    if (pid === undefined) {
      reject(new Error(`could not start cli/${entry}.ts`));
      return;
    }
    const running: RunningCli = {
      pid,
      stdout: '',
      stderr: '',
      pressCtrlC: () => process.kill(-pid, 'SIGINT'),
      interrupt: () => child.kill('SIGINT'),
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      running.stdout += chunk.toString();
      options.onOutput?.(running);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      running.stderr += chunk.toString();
      options.onOutput?.(running);
    });
    const deadline =
      options.deadlineMs === undefined
        ? undefined
        : setTimeout(() => {
            try {
              process.kill(-pid, 'SIGKILL');
            } catch {
              // The group ended between the timer firing and the kill: the error below still says it was late.
            }
            reject(
              new Error(`cli/${entry}.ts had not exited after ${options.deadlineMs} ms; it printed:\n${running.stdout}\n${running.stderr}`),
            );
          }, options.deadlineMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout: running.stdout, stderr: running.stderr, pid });
    });
  });
}
