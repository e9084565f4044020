/**
 * PostgreSQL errors as the migration sees them: by SQLSTATE, whether they reach us from `pg` directly
 * or wrapped by Prisma's driver adapter (`meta.driverAdapterError.cause.originalCode`).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */

import { DatabaseUnreachableError, SchemaMissingError } from '../core/errors.js';
import { describeTarget } from './migration-applier.js';

export const SERIALIZATION_FAILURE = '40001';
export const DEADLOCK_DETECTED = '40P01';
export const TOO_MANY_CONNECTIONS = '53300';
export const ADMIN_SHUTDOWN = '57P01';
export const UNIQUE_VIOLATION = '23505';
export const UNDEFINED_TABLE = '42P01';

/** Worth another try as they are: the server or the network, not the statement, was the problem. */
const transientCodes = new Set([SERIALIZATION_FAILURE, DEADLOCK_DETECTED, TOO_MANY_CONNECTIONS, ADMIN_SHUTDOWN]);

/** Prisma's adapter reports lost connections by kind, without a SQLSTATE. */
const transientAdapterKinds = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionWriteConflict',
]);

/**
 * What `pg` throws when the server closed the socket (no SQLSTATE: the reply never came), including on
 * a pooled connection that broke while idle or mid-transaction and is handed out once more.
 */
const connectionLostMessages = [
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  // `connectionTimeoutMillis` ran out: a server (or a path to it) that accepts connections but does not answer.
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
];

/**
 * Prisma's codes for a server that cannot be reached or went away: P1001 (cannot reach), P1002 and P1008
 * (timed out), P1017 (the server closed the connection), P2024 (no pooled connection freed in time).
 * https://www.prisma.io/docs/orm/reference/error-reference
 */
const transientPrismaCodes = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/** Prisma's own error code (P1xxx, P2xxx), which is not a SQLSTATE although it is shaped like one. */
function prismaCodeOf(error: unknown): string | undefined {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return typeof name === 'string' && name.startsWith('PrismaClient') && typeof code === 'string' ? code : undefined;
}

interface AdapterCause {
  originalCode?: unknown;
  code?: unknown;
  kind?: unknown;
  originalMessage?: unknown;
  message?: unknown;
  /** The table a "table does not exist" error names. */
  table?: unknown;
}

/** Prisma wraps the adapter's error in `meta` for queries, and throws it bare from a transaction's commit. */
function adapterCauseOf(error: unknown): AdapterCause | undefined {
  const e = error as { name?: unknown; cause?: unknown; meta?: { driverAdapterError?: { cause?: AdapterCause } } } | null;
  if (e?.meta?.driverAdapterError?.cause) return e.meta.driverAdapterError.cause;
  if (e?.name === 'DriverAdapterError' && e.cause !== null && typeof e.cause === 'object') return e.cause;
  return undefined;
}

/** The SQLSTATE of a PostgreSQL error, however it was wrapped; undefined if it carries none. */
export function sqlStateOf(error: unknown): string | undefined {
  const cause = adapterCauseOf(error);
  const own = prismaCodeOf(error) === undefined ? (error as { code?: unknown } | null)?.code : undefined;
  for (const code of [cause?.originalCode, cause?.code, own]) {
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * Serialization failures, deadlocks, too many connections, admin shutdown, connection exceptions (class 08),
 * and connections lost, refused or timed out however the driver or Prisma reports them.
 */
export function isTransientPostgresError(error: unknown): boolean {
  // The write path talks to `pg` directly: its socket errors arrive as Node raised them.
  if (isPostgresUnreachable(error) || isBrokenPipe(error)) return true;
  const prismaCode = prismaCodeOf(error);
  if (prismaCode !== undefined && transientPrismaCodes.has(prismaCode)) return true;
  const state = sqlStateOf(error);
  if (state) return transientCodes.has(state) || state.startsWith('08');
  const kind = adapterCauseOf(error)?.kind;
  if (typeof kind === 'string') return transientAdapterKinds.has(kind);
  return error instanceof Error && connectionLostMessages.includes(error.message);
}

/** Program limits a single row can exceed: an index row over btree's 2,704 bytes (54000), stack depth (54001). */
const rowLimitCodes = new Set(['54000', '54001']);
/** "ON CONFLICT DO UPDATE command cannot affect row a second time": two rows of one statement met one key. */
const CARDINALITY_VIOLATION = '21000';

/**
 * Something the database refused about one row rather than about the batch, so the row is isolated and
 * quarantined while the rest is written: a data exception (class 22), an integrity constraint other than
 * a unique-key race (class 23 but 23505, which a retry settles), a value too large for an index (54000)
 * or too deep to process (54001), and two rows of one statement meeting one key (21000).
 */
export function isRowDataError(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state === undefined) return false;
  if (state.startsWith('23')) return state !== UNIQUE_VIOLATION;
  return state.startsWith('22') || rowLimitCodes.has(state) || state === CARDINALITY_VIOLATION;
}

/** Words after which PostgreSQL quotes a name of the schema (kept), as opposed to a value (never shown). */
const namedObjectKinds = [
  'column',
  'relation',
  'index',
  'constraint',
  'table',
  'type',
  'schema',
  'function',
  'operator',
  'sequence',
  'database',
  'role',
  'domain',
  'trigger',
  'view',
  'collation',
  'extension',
];
const namedObject = new RegExp(`(?:${namedObjectKinds.join('|')})\\s+$`, 'i');

/**
 * The server's message with every quoted value replaced by `"…"`: PostgreSQL quotes the offending input
 * in some messages (`invalid input syntax for type bigint: "…"`, `value "…" is out of range`), and a
 * quarantine reason must never echo field content. Quoted names of tables, columns, indexes and the like
 * are kept: they say what refused the row.
 */
function withoutQuotedValues(message: string): string {
  return message.replace(/"(?:[^"]|"")*"/g, (quoted, offset: number) =>
    namedObject.test(message.slice(Math.max(0, offset - 20), offset)) && quoted.length <= 130 ? quoted : '"…"',
  );
}

/**
 * A database error for a quarantine reason: SQLSTATE and the server's one-line message with quoted values
 * left out, never its DETAIL (which prints the whole failing row, secrets included).
 */
export function describePostgresError(error: unknown): string {
  const cause = adapterCauseOf(error);
  const message = [cause?.originalMessage, cause?.message, error instanceof Error ? error.message : undefined].find(
    (text): text is string => typeof text === 'string' && text.length > 0,
  );
  const state = sqlStateOf(error);
  return `${state ? `SQLSTATE ${state}: ` : ''}${withoutQuotedValues(message ?? 'unknown error').slice(0, 300)}`;
}

/** Prisma's codes for "no server answered" (P1001) and "the connection timed out" (P1002, P1017: server closed it). */
const unreachablePrismaCodes = new Set(['P1001', 'P1002', 'P1017']);
/** Socket errors `pg` throws as they are when no server answers. */
const unreachableSocketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** A write to a socket the server (or the path to it) already closed. */
function isBrokenPipe(error: unknown): boolean {
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  return code === 'EPIPE' && typeof syscall === 'string';
}

/** Whether `error` means no PostgreSQL server could be reached (as opposed to an answer it gave). */
export function isPostgresUnreachable(error: unknown): boolean {
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  if (typeof code === 'string' && unreachablePrismaCodes.has(code)) return true;
  // Only a socket error of Node's own (it names the system call), as `pg` passes them on: the Cosmos SDK
  // reports the same codes on errors of its own, which are not about PostgreSQL.
  if (typeof code === 'string' && unreachableSocketCodes.has(code) && typeof syscall === 'string') return true;
  if (adapterCauseOf(error)?.kind === 'DatabaseNotReachable') return true;
  // Node reports a refused dual-stack connect (localhost: ::1 and 127.0.0.1) as an AggregateError.
  return error instanceof AggregateError && error.errors.length > 0 && error.errors.every(isPostgresUnreachable);
}

/**
 * The table a "relation does not exist" error names (SQLSTATE 42P01, Prisma P2021), or undefined for any
 * other error: the schema was never applied to this database.
 */
export function missingTableOf(error: unknown): string | undefined {
  const prismaCode = (error as { code?: unknown } | null)?.code;
  if (prismaCode !== 'P2021' && sqlStateOf(error) !== UNDEFINED_TABLE) return undefined;
  const cause = adapterCauseOf(error);
  const meta = (error as { meta?: { table?: unknown } } | null)?.meta;
  const named = [cause?.table, meta?.table].find((table): table is string => typeof table === 'string' && table.length > 0);
  if (named) return named;
  const quoted = /relation "([^"]+)" does not exist/.exec([cause?.originalMessage, (error as Error | null)?.message].join(' '));
  return quoted?.[1] ?? '(unknown)';
}

/**
 * `error` as the error a person can act on, when it is one of these: {@link SchemaMissingError} (run
 * `npm run db:migrate`) or {@link DatabaseUnreachableError} naming PostgreSQL and `databaseUrl`'s host,
 * port and database (never its password). Undefined for any other error.
 */
export function postgresFailureOf(
  error: unknown,
  databaseUrl: string | undefined,
): SchemaMissingError | DatabaseUnreachableError | undefined {
  const table = missingTableOf(error);
  if (table) return new SchemaMissingError(table, { cause: error });
  if (isPostgresUnreachable(error)) {
    return new DatabaseUnreachableError(
      'PostgreSQL',
      databaseUrl ? describeTarget(databaseUrl) : '(no DATABASE_URL)',
      'no server answered',
      {
        cause: error,
      },
    );
  }
  return undefined;
}
