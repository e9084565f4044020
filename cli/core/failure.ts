import type { AppConfig } from '../../shared/config/env.js';
import { secretsOf } from '../../shared/config/secrets.js';
import { AppError } from '../../shared/core/errors.js';
import { safeErrorMessage } from '../../shared/core/safe-error.js';
import { cosmosEndpointOf, cosmosUnreachableError } from '../../shared/cosmos/cosmos-errors.js';
import { postgresFailureOf } from '../../shared/postgres/postgres-errors.js';

/**
 * What a command says when it fails. Errors this project raises are written for people and shown as
 * they are. A library's error is first recognised by the adapters where it is something a person can
 * act on (a database that does not answer, a schema never applied); anything else is shown masked
 * (no secrets), shortened, and without the source path and code frame Prisma puts in its messages.
 */
export function recogniseFailure(error: unknown, config: AppConfig | undefined): unknown {
  if (error instanceof AppError) return error;
  const cosmos = config?.cosmos ? cosmosUnreachableError(error, cosmosEndpointOf(config.cosmos)) : undefined;
  return cosmos ?? postgresFailureOf(error, config?.databaseUrl) ?? error;
}

/** The message for people (and `--json`) of an error `recogniseFailure` has seen. */
export function describeFailure(error: unknown, config: AppConfig | undefined): string {
  if (error instanceof AppError) return error.message;
  return safeErrorMessage(withoutCodeFrame(error), secretsOf(config));
}

/**
 * Prisma's messages start with "Invalid `prisma.x()` invocation in <source path>:<line>:<column>" and a
 * few lines of the caller's source; what went wrong is the text after them.
 */
function withoutCodeFrame(error: unknown): unknown {
  if (!(error instanceof Error) || !/Invalid `[^`]*` invocation/.test(error.message)) return error;
  const lines = error.message.split('\n');
  const lastFrameLine = lines.findLastIndex((line) => /^\s*(→\s*)?\d+\s/.test(line) || /invocation( in)?:?$/.test(line.trim()));
  const rest = lines
    .slice(lastFrameLine + 1)
    .filter((line) => line.trim() !== '' && !/^\/|^[A-Za-z]:\\|\.(ts|js|mts|mjs):\d+:\d+$/.test(line.trim()))
    .join(' ')
    .trim();
  return new Error(rest || 'the database refused the request');
}
