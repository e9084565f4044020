import { type AppConfig, loadConfig } from '../shared/config/env.js';
import { secretsOf } from '../shared/config/secrets.js';
import type { AppContext } from '../shared/context/app-context.js';
import { AppError, answerOf } from '../shared/core/errors.js';
import { safeErrorMessage } from '../shared/core/safe-error.js';
import { closeServices } from '../shared/runtime/services.js';
import { type CommandIO, ExitCode } from './command.js';
import { openConfiguredServices } from './command-services.js';
import { createProgressReporter } from './progress-reporter.js';

/** If closing the clients hangs (a stuck socket), leave anyway after this long. */
const shutdownGraceMs = 10_000;

/**
 * Runs a prepared command: gives it its IO, turns what it throws into a message and exit code 1, and
 * closes the database clients. Error messages never carry secrets: the ones this project writes name
 * settings, not values, and anything else is masked with the configured secrets.
 */
export async function runCommand(script: string, json: boolean, work: (io: CommandIO) => Promise<number>): Promise<number> {
  let services: AppContext | undefined;
  const io: CommandIO = {
    json,
    result: (text) => process.stdout.write(`${text}\n`),
    log: (line) => process.stderr.write(`${line}\n`),
    progress: createProgressReporter(),
    services: () => (services ??= openConfiguredServices()),
  };
  try {
    return await work(io);
  } catch (error) {
    io.progress.stop();
    const message = describeFailure(error);
    io.log(`${script}: ${message}`);
    if (json) io.result(JSON.stringify({ error: message, code: error instanceof AppError ? error.code : undefined }, null, 2));
    return answerOf(error).exit;
  } finally {
    const timer = setTimeout(() => process.exit(process.exitCode ?? ExitCode.failed), shutdownGraceMs);
    timer.unref();
    await closeServices().catch(() => undefined);
  }
}

/** Errors written for people are shown as they are; anything else is masked and shortened. */
function describeFailure(error: unknown): string {
  if (error instanceof AppError) return error.message;
  return safeErrorMessage(error, secretsOf(configuredOrNothing()));
}

function configuredOrNothing(): AppConfig | undefined {
  try {
    return loadConfig();
  } catch {
    return undefined;
  }
}
