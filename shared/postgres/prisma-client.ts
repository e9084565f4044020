import { PrismaPg } from '@prisma/adapter-pg';
import type { PostgresTimeoutSettings } from '../config/env.js';
import { type PostgresCredentials, pgConnectionConfig, urlPassword } from './entra-credentials.js';
import { PrismaClient } from './generated/prisma/client.js';
import { guardAgainstSilence } from './silent-connection.js';

export type { PrismaClient };

/** PostgreSQL's time limits (settings DATABASE_*_SECONDS, see `config/env.ts`). */
export type PostgresTimeouts = PostgresTimeoutSettings;

/**
 * Microsoft asks clients of Azure Database for PostgreSQL to retry transient faults, which restarts,
 * maintenance and failovers produce ("Reliability in Azure Database for PostgreSQL", transient faults): a
 * minute of retries (issue 9) rides out a restart or a brief failover; raise DATABASE_RETRY_WINDOW_SECONDS
 * where failovers take longer. A statement running two minutes is a page far too large, not a busy server.
 */
export const defaultPostgresTimeouts: PostgresTimeouts = {
  statementTimeoutMs: 120_000,
  idleInTransactionTimeoutMs: 60_000,
  queryTimeoutMs: 150_000,
  connectTimeoutMs: 15_000,
  keepAliveInitialDelayMs: 10_000,
  retryWindowMs: 60_000,
};

/** The timeouts each client was created with, for the code that runs transactions on it. */
const timeoutsByClient = new WeakMap<PrismaClient, PostgresTimeouts>();

/**
 * The timeouts `prisma` was created with by {@link createPrismaClient}; the defaults for a client made
 * elsewhere. The write path reads its retry window and statement timeouts here, so whoever calls it (the
 * migration, the sync, the queue, repair) obeys the same configured values.
 */
export function timeoutsOf(prisma: PrismaClient): PostgresTimeouts {
  return timeoutsByClient.get(prisma) ?? defaultPostgresTimeouts;
}

/**
 * Creates a Prisma client on the `pg` driver adapter. `poolSize` bounds this process's connections:
 * many Function instances share one server, so keep it small (docs/deploy.md, "Connections").
 * `credentials` is how each new pooled connection signs in: the URL's password, or a fresh Entra token.
 * `timeouts` bound how long a connection or a query may go unanswered. The server-side ones are set per
 * write transaction (`SET LOCAL`, see {@link setTransactionTimeouts}), not as startup parameters: PgBouncer,
 * which the deployment puts in front of the server, refuses startup parameters it does not know.
 */
export function createPrismaClient(
  databaseUrl: string,
  poolSize: number,
  credentials: PostgresCredentials = urlPassword,
  timeouts: PostgresTimeouts = defaultPostgresTimeouts,
): PrismaClient {
  const adapter = new PrismaPg({
    ...pgConnectionConfig(databaseUrl, credentials),
    max: poolSize,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: timeouts.keepAliveInitialDelayMs,
    onConnect: (client) => {
      guardAgainstSilence(client, timeouts.queryTimeoutMs);
    },
  });
  const prisma = new PrismaClient({ adapter });
  timeoutsByClient.set(prisma, timeouts);
  return prisma;
}

/** What {@link setTransactionTimeouts} needs: an interactive transaction's client. */
interface TransactionClient {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

/**
 * Sets the server-side timeouts for the rest of the current transaction only (`set_config(..., true)` is
 * `SET LOCAL`), which works behind PgBouncer's transaction pooling too. Call it first in a transaction.
 */
export async function setTransactionTimeouts(tx: TransactionClient, timeouts: PostgresTimeouts): Promise<void> {
  await tx.$executeRawUnsafe(
    "SELECT set_config('statement_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $2, true)",
    String(timeouts.statementTimeoutMs),
    String(timeouts.idleInTransactionTimeoutMs),
  );
}
