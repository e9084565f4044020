import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { PostgresTimeoutSettings } from '../config/env.js';
import { type PostgresCredentials, pgConnectionConfig, urlPassword } from './entra-credentials.js';
import { PrismaClient } from './generated/prisma/client.js';
import { guardAgainstSilence } from './silent-connection.js';
import type { SqlClient } from './sql-client.js';

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
 * The `pg` pool of one client, shared by its Prisma queries and the write path, which runs its transactions on
 * it directly (`pg-transaction.ts`). One pool at a time: `$disconnect` ends it, and as Prisma connects again
 * on the next query after a `$disconnect`, so does this: the next use opens a new pool.
 */
class SharedPool {
  readonly #config: pg.PoolConfig;
  #pool: pg.Pool | undefined;

  constructor(config: pg.PoolConfig) {
    this.#config = config;
  }

  current(): pg.Pool {
    if (!this.#pool || this.#pool.ending) {
      this.#pool = new pg.Pool(this.#config);
      // A connection that dies while idle in the pool is dropped by it, and the next query opens another;
      // without a listener that 'error' event would end the process (Prisma adds one only while connected).
      this.#pool.on('error', () => undefined);
    }
    return this.#pool;
  }

  async end(): Promise<void> {
    if (this.#pool && !this.#pool.ending) await this.#pool.end();
  }

  /** Prisma's `pg` adapter on the current pool: it takes the pool when Prisma connects, and ends it when Prisma disconnects. */
  adapter(): Pick<PrismaPg, 'provider' | 'adapterName' | 'connect' | 'connectToShadowDb'> {
    const onConfig = new PrismaPg(this.#config);
    return {
      provider: onConfig.provider,
      adapterName: onConfig.adapterName,
      connect: () => new PrismaPg(this.current(), { disposeExternalPool: true }).connect(),
      connectToShadowDb: () => onConfig.connectToShadowDb(),
    };
  }
}

const poolsByClient = new WeakMap<PrismaClient, SharedPool>();

/** The connection pool of a client made by {@link createPrismaClient}, the one its Prisma queries use too. */
export function poolOf(prisma: PrismaClient): pg.Pool {
  const pools = poolsByClient.get(prisma);
  if (!pools) throw new Error('this Prisma client was not made by createPrismaClient: its connection pool is unknown');
  return pools.current();
}

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
  const pools = new SharedPool({
    ...pgConnectionConfig(databaseUrl, credentials),
    max: poolSize,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: timeouts.keepAliveInitialDelayMs,
    onConnect: (client) => {
      guardAgainstSilence(client, timeouts.queryTimeoutMs);
    },
  });
  const prisma = new PrismaClient({ adapter: pools.adapter() });
  // The write path may have used the pool without Prisma ever connecting: `$disconnect` ends it all the same.
  const disconnect = prisma.$disconnect.bind(prisma);
  Object.defineProperty(prisma, '$disconnect', {
    configurable: true,
    value: async () => {
      await disconnect();
      await pools.end();
    },
  });
  timeoutsByClient.set(prisma, timeouts);
  poolsByClient.set(prisma, pools);
  return prisma;
}

/**
 * Sets the server-side timeouts for the rest of the current transaction only (`set_config(..., true)` is
 * `SET LOCAL`), which works behind PgBouncer's transaction pooling too. Call it first in a transaction.
 */
export async function setTransactionTimeouts(tx: Pick<SqlClient, '$executeRawUnsafe'>, timeouts: PostgresTimeouts): Promise<void> {
  await tx.$executeRawUnsafe(
    "SELECT set_config('statement_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $2, true)",
    String(timeouts.statementTimeoutMs),
    String(timeouts.idleInTransactionTimeoutMs),
  );
}
