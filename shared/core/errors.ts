/**
 * Every error this project raises on purpose, in one module (as Electric's client keeps its `error.ts`).
 * Each has a stable `code` and structured `fields`, never a message to be taken apart again; the HTTP
 * functions, the queue function and the CLI turn a code into their answer with one table,
 * {@link errorAnswers}. Anything else that is thrown (a driver's error, a bug) is "unexpected": answered
 * as an internal error, its message masked before it is shown anywhere (see `safe-error.ts`).
 */

export const errorAnswers = {
  /** A setting is missing or malformed. `fields.settings` names them, never their values. */
  CONFIG_INVALID: { http: 503, exit: 1, queue: 'failed' },
  /** A command was run with a setting it needs missing. */
  NOT_CONFIGURED: { http: 503, exit: 1, queue: 'failed' },
  /** A write was asked for while MIGRATION_MODE is off. */
  MIGRATION_MODE_DISABLED: { http: 409, exit: 1, queue: 'refused' },
  /** A queue message that can never be processed. */
  INVALID_MESSAGE: { http: 400, exit: 2, queue: 'rejected' },
  /** A request body, query or command-line argument that is not valid. */
  INVALID_INPUT: { http: 400, exit: 2, queue: 'rejected' },
  /** A document a caller wants to write does not fit its schema. */
  DOCUMENT_INVALID: { http: 400, exit: 1, queue: 'rejected' },
  /** `create` of a document that exists. */
  DOCUMENT_CONFLICT: { http: 409, exit: 1, queue: 'failed' },
  /** `update` of a document that does not exist. */
  DOCUMENT_NOT_FOUND: { http: 404, exit: 1, queue: 'failed' },
  /** A migration run id that no run has. */
  RUN_NOT_FOUND: { http: 404, exit: 1, queue: 'rejected' },
  /** `--resume` with no unfinished run to continue. */
  NOTHING_TO_RESUME: { http: 404, exit: 1, queue: 'rejected' },
  /** The PostgreSQL schema is not there (migrations not applied). */
  SCHEMA_MISSING: { http: 503, exit: 1, queue: 'failed' },
  /** A database did not answer. `fields.database` says which, `fields.endpoint` where. */
  DATABASE_UNREACHABLE: { http: 503, exit: 1, queue: 'failed' },
  /** Stopped by the operator (Ctrl-C) or a shutdown, at a point from which it can be resumed. */
  INTERRUPTED: { http: 503, exit: 130, queue: 'failed' },
  /** A change-feed batch holds items the sync cannot read, or items shaped for the other change-feed mode. */
  CHANGE_FEED_UNREADABLE: { http: 500, exit: 1, queue: 'failed' },
  /** Changes could not be handed to the queue whole (a change too large for any message). */
  DEFERRAL_IMPOSSIBLE: { http: 500, exit: 1, queue: 'failed' },
  /** Catch-up asked for while PostgreSQL has no change-feed position yet (no full load has completed). */
  NO_CHANGE_FEED_POSITIONS: { http: 409, exit: 1, queue: 'rejected' },
  /** A reconcile that would remove rows while PostgreSQL is primary (its rows Cosmos lacks may be unmirrored writes). */
  RECONCILE_REFUSED: { http: 409, exit: 1, queue: 'refused' },
  /** A write arrived while a switch holds writes, and the switch did not finish within the write's wait: retry it. */
  SWITCH_IN_PROGRESS: { http: 503, exit: 1, queue: 'failed' },
  /** A switch that cannot be made now: a readiness check failed, another switch holds the fence, or the move is not possible. */
  SWITCH_REFUSED: { http: 409, exit: 1, queue: 'refused' },
  /** Copying from Cosmos into PostgreSQL asked for while PostgreSQL is primary: it would go backwards. */
  POSTGRES_IS_PRIMARY: { http: 409, exit: 1, queue: 'refused' },
  /** A quarantine key no entry has. */
  QUARANTINE_ENTRY_NOT_FOUND: { http: 404, exit: 1, queue: 'rejected' },
  /** A quarantine retry while PostgreSQL is primary (what Cosmos holds then may be the mirror's own copies). */
  QUARANTINE_RETRY_REFUSED: { http: 409, exit: 1, queue: 'refused' },
} as const satisfies Record<string, ErrorAnswer>;

export interface ErrorAnswer {
  /** HTTP status of the functions' JSON answer. */
  http: number;
  /** CLI exit code. */
  exit: number;
  /** How the queue function logs a message that failed so (every failure is still thrown, see `migration-queue.ts`). */
  queue: 'rejected' | 'refused' | 'failed';
}

export type ErrorCode = keyof typeof errorAnswers;

/** The answer to anything that is not an {@link AppError}. */
export const unexpectedAnswer: ErrorAnswer = { http: 500, exit: 1, queue: 'failed' };

/**
 * The base of this project's errors. `message` is for people and never carries a secret; `fields`
 * carries what a program needs (setting names, ids), so nobody parses the message.
 */
export class AppError<F extends Record<string, unknown> = Record<string, unknown>> extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields: F,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** How HTTP, the queue and the CLI answer an error: by its code, or as unexpected. */
export function answerOf(error: unknown): ErrorAnswer {
  return error instanceof AppError ? errorAnswers[error.code] : unexpectedAnswer;
}

/** A problem with the configuration: the setting(s) concerned (alternatives, when one of several will do) and what was expected. */
export interface SettingProblem {
  settings: string[];
  problem: string;
}

/** One or more settings are missing or malformed; every problem is reported at once, naming settings, never values. */
export class ConfigError extends AppError<{ settings: string[]; problems: string[] }> {
  constructor(problems: SettingProblem[]) {
    const lines = problems.map(({ settings, problem }) => `${settings.join(' or ')}: ${problem}`);
    super('CONFIG_INVALID', `Invalid configuration:\n${lines.map((line) => `  - ${line}`).join('\n')}`, {
      settings: [...new Set(problems.flatMap(({ settings }) => settings))],
      problems: lines,
    });
  }

  get problems(): string[] {
    return this.fields.problems;
  }
}

/** A command that needs settings which are not set: names them and says what to do instead. */
export class NotConfiguredError extends AppError<{ settings: string[] }> {
  constructor(message: string, settings: string[]) {
    super('NOT_CONFIGURED', message, { settings });
  }
}

/** A migration that would write was started without MIGRATION_MODE=true. */
export class MigrationModeDisabledError extends AppError<Record<string, never>> {
  constructor() {
    super(
      'MIGRATION_MODE_DISABLED',
      'Migration utilities are disabled: set MIGRATION_MODE=true to let them write to PostgreSQL (a dry run is always allowed).',
      {},
    );
  }
}

/** A queue message that can never be processed; thrown so the host moves it to the poison queue. */
export class InvalidMessageError extends AppError<{ problems: string[] }> {
  constructor(problems: string[]) {
    super('INVALID_MESSAGE', problems.join('; '), { problems });
  }
}

/** Input from a person or a client (argument, body, route parameter) that is not valid; the message names it. */
export class InvalidInputError extends AppError<{ input: string }> {
  constructor(input: string, problem: string) {
    super('INVALID_INPUT', problem.startsWith(input) ? problem : `${input}: ${problem}`, { input });
  }
}

/** A document a caller wants to write does not fit its schema; the reason names fields, never values. */
export class DocumentValidationError extends AppError<{ reason: string }> {
  constructor(reason: string) {
    super('DOCUMENT_INVALID', reason, { reason });
  }
}

export class DocumentConflictError extends AppError<{ type: string; id: string }> {
  constructor(type: string, id: string) {
    super('DOCUMENT_CONFLICT', `${type} ${id} already exists`, { type, id });
  }

  get type(): string {
    return this.fields.type;
  }

  get id(): string {
    return this.fields.id;
  }
}

export class DocumentNotFoundError extends AppError<{ type: string; id: string }> {
  constructor(type: string, id: string) {
    super('DOCUMENT_NOT_FOUND', `${type} ${id} does not exist`, { type, id });
  }

  get type(): string {
    return this.fields.type;
  }

  get id(): string {
    return this.fields.id;
  }
}

/** A run id no run has. */
export class MigrationRunNotFoundError extends AppError<{ runId: string }> {
  constructor(runId: string) {
    super('RUN_NOT_FOUND', `No migration run with id ${runId}`, { runId });
  }

  get runId(): string {
    return this.fields.runId;
  }
}

/** `--resume` found no unfinished run of the same scope. */
export class NothingToResumeError extends AppError<{ command: string }> {
  constructor(command: string) {
    super('NOTHING_TO_RESUME', `There is no interrupted or failed ${command} run to resume; run it without --resume to start one.`, {
      command,
    });
  }
}

/** The PostgreSQL tables are not there: the migrations were not applied to this database. */
export class SchemaMissingError extends AppError<{ table: string }> {
  constructor(table: string, options?: ErrorOptions) {
    super('SCHEMA_MISSING', `PostgreSQL has no table "${table}": apply the schema first with npm run db:migrate`, { table }, options);
  }
}

/** A database that did not answer; the message names it and where it was looked for, never a credential. */
export class DatabaseUnreachableError extends AppError<{ database: 'Cosmos DB' | 'PostgreSQL'; endpoint: string; reason: string }> {
  constructor(database: 'Cosmos DB' | 'PostgreSQL', endpoint: string, reason: string, options?: ErrorOptions) {
    super('DATABASE_UNREACHABLE', `${database} at ${endpoint} did not answer: ${reason}`, { database, endpoint, reason }, options);
  }
}

/** Work stopped on request (an aborted `AbortSignal`) at a point from which it can be resumed. */
export class InterruptedError extends AppError<{ reason: string }> {
  constructor(reason: string) {
    super('INTERRUPTED', `interrupted: ${reason}`, { reason });
  }
}

/** Throws {@link InterruptedError} if `signal` is aborted: call it at the points where stopping is safe. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason = signal.reason instanceof Error ? signal.reason.message : typeof signal.reason === 'string' ? signal.reason : 'aborted';
  throw new InterruptedError(reason);
}

/**
 * A change-feed batch the sync cannot apply as it is: items shaped for the other change-feed mode (`mismatched`,
 * which means the loaded Cosmos DB extension does not honour COSMOSDB_CHANGE_FEED_MODE) or items that name no
 * document (`unreadable`). Thrown so the runtime holds the batch; on its last attempt the batch is deferred whole.
 */
export class ChangeFeedUnreadableError extends AppError<{ mode: string; mismatched: number; unreadable: number }> {
  constructor(mode: string, mismatched: number, unreadable: number) {
    const parts = [
      mismatched > 0
        ? mode === 'AllVersionsAndDeletes'
          ? `${mismatched} plain document(s) arrived in AllVersionsAndDeletes mode: the loaded Cosmos DB extension does not support ` +
            'AllVersionsAndDeletes (use the preview extension bundle, see docs/deploy.md), so deletes are not being delivered'
          : `${mismatched} all-versions change record(s) arrived in LatestVersion mode: the trigger runs in AllVersionsAndDeletes ` +
            'mode while COSMOSDB_CHANGE_FEED_MODE says LatestVersion; set the two alike'
        : undefined,
      unreadable > 0 ? `${unreadable} change-feed item(s) name no document` : undefined,
    ].filter((part): part is string => part !== undefined);
    super('CHANGE_FEED_UNREADABLE', parts.join('; '), { mode, mismatched, unreadable });
  }
}

/** A change that cannot be put on the queue (too large for one message even alone); the invocation fails. */
export class DeferralImpossibleError extends AppError<{ bytes: number; limit: number }> {
  constructor(bytes: number, limit: number) {
    super('DEFERRAL_IMPOSSIBLE', `a deferred change needs ${bytes} bytes, more than a queue message holds (${limit})`, { bytes, limit });
  }
}

/**
 * Catching up from the change feed (`migrate:incremental`, `migrate:sync`) needs PostgreSQL's positions in it,
 * which a completed full load records; there are none yet.
 */
export class NoChangeFeedPositionsError extends AppError<Record<string, never>> {
  constructor() {
    super(
      'NO_CHANGE_FEED_POSITIONS',
      'PostgreSQL has no change-feed position to continue from: no full load has completed yet (or it ran with --skip-existing). ' +
        'Run `npm run migrate:full` first; or start the sync runner at a point of your choosing with `npm run migrate:sync -- --from now`.',
      {},
    );
  }
}

/**
 * A reconcile with --apply while USE_POSTGRESQL=true: PostgreSQL is primary, so a row Cosmos lacks may be a write
 * the mirror has not copied yet (pending_sync), not a delete. Removing it would lose the write.
 */
export class ReconcileRefusedError extends AppError<Record<string, never>> {
  constructor() {
    super(
      'RECONCILE_REFUSED',
      'Reconcile removes PostgreSQL rows that Cosmos lacks, and while PostgreSQL is primary (a switch recorded it, or ' +
        'USE_POSTGRESQL=true where none was) such a row may be a ' +
        'write the mirror has not copied to Cosmos yet: run it with --apply only while Cosmos is primary (a dry run is always allowed).',
      {},
    );
  }
}

/**
 * A write that waited at a switch's fence for as long as it may (the switch drains one database into the
 * other meanwhile) and found the switch still running. Nothing was written: the caller retries, as after a 503.
 */
export class SwitchInProgressError extends AppError<{ phase: string; waitedMs: number; retryable: true }> {
  constructor(phase: string, waitedMs: number) {
    super(
      'SWITCH_IN_PROGRESS',
      `A switch of the primary database is in progress (${phase}); the write waited ${waitedMs} ms and was not made: retry it.`,
      { phase, waitedMs, retryable: true },
    );
  }
}

/** A switch refused: `reason` says why and what to do; `failedChecks` names the readiness checks that failed. */
export class SwitchRefusedError extends AppError<{ reason: string; failedChecks: string[] }> {
  constructor(reason: string, failedChecks: string[] = []) {
    super('SWITCH_REFUSED', reason, { reason, failedChecks });
  }
}

/** A copy from Cosmos into PostgreSQL (a migration, a repair) asked for while PostgreSQL is the primary database. */
export class PostgresIsPrimaryError extends AppError<{ phase: string; operation: string }> {
  constructor(phase: string, operation: string) {
    super(
      'POSTGRES_IS_PRIMARY',
      `${operation} copies Cosmos DB into PostgreSQL, and PostgreSQL is the primary database now (${phase}): it would overwrite ` +
        'newer writes. Switch back first (npm run migrate:switch -- --to cosmos), or leave it.',
      { phase, operation },
    );
  }
}

/** A quarantine key that no entry has. */
export class QuarantineEntryNotFoundError extends AppError<{ key: string }> {
  constructor(key: string) {
    super('QUARANTINE_ENTRY_NOT_FOUND', `No quarantine entry with key ${JSON.stringify(key)}`, { key });
  }
}

/**
 * A quarantine retry while PostgreSQL is primary: it writes Cosmos's current version of each document to
 * PostgreSQL, and while PostgreSQL is primary Cosmos holds the mirror's copies of its own writes.
 */
export class QuarantineRetryRefusedError extends AppError<Record<string, never>> {
  constructor() {
    super(
      'QUARANTINE_RETRY_REFUSED',
      "A quarantine retry writes Cosmos's current version of each document to PostgreSQL; while PostgreSQL is primary " +
        "(a switch recorded it, or USE_POSTGRESQL=true where none was) Cosmos holds the mirror copies of PostgreSQL's own writes, " +
        "so it runs only while Cosmos is primary. To keep PostgreSQL's version of a diverged document, resolve its entry.",
      {},
    );
  }
}
