import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { destroyUnlessDoneWithin } from './silent-connection.js';
import type { CopyClient, SqlClient } from './sql-client.js';

/**
 * A transaction on one connection of the Prisma client's own `pg` pool, without Prisma in between. The write
 * path runs here (issue 15): through Prisma's raw queries every parameter and every result crosses its query
 * engine and is converted on the way, which cost about as much client CPU per page as everything else the
 * page does. Same pool, same connections, same limits and silence guard (`prisma-client.ts`); only the
 * statements skip a layer.
 */

/** Results as Prisma's raw queries give them (int8 as bigint, where `pg` gives a string), so code runs on either. */
const types: pg.CustomTypesConfig = {
  getTypeParser: (oid: Parameters<typeof pg.types.getTypeParser>[0], format?: 'text' | 'binary'): unknown =>
    oid === pg.types.builtins.INT8 ? (text: string) => BigInt(text) : pg.types.getTypeParser(oid, format),
};

export class PgTransaction implements CopyClient {
  readonly #client: pg.PoolClient;
  readonly #deadlineMs: number;

  /** `deadlineMs`: how long a COPY may go unanswered before its connection is destroyed (see `silent-connection.ts`). */
  constructor(client: pg.PoolClient, deadlineMs: number) {
    this.#client = client;
    this.#deadlineMs = deadlineMs;
  }

  async $queryRawUnsafe<T = unknown>(text: string, ...values: unknown[]): Promise<T> {
    const result = await this.#client.query({ text, values, types });
    return result.rows as T;
  }

  async $executeRawUnsafe(text: string, ...values: unknown[]): Promise<number> {
    const result = await this.#client.query({ text, values, types });
    return result.rowCount ?? 0;
  }

  async copyFrom(statement: string, data: Buffer): Promise<number> {
    const done = destroyUnlessDoneWithin(this.#client, this.#deadlineMs);
    try {
      const copy = this.#client.query(copyFromStdin(statement));
      await pipeline([data], copy);
      return copy.rowCount;
    } finally {
      done();
    }
  }
}

/**
 * Runs `work` in one transaction on a connection of `pool`: BEGIN, `work`, COMMIT; ROLLBACK if `work` throws
 * (its error is rethrown). A connection that failed to roll back is destroyed rather than returned to the pool.
 * `deadlineMs` bounds each COPY as the pool's silence guard bounds each query. While the connection is checked
 * out, its `error` event (the server went away between two statements) is caught here, as the pool does for
 * idle ones; the next statement then fails and the error reaches the caller.
 */
export async function inPgTransaction<T>(pool: pg.Pool, deadlineMs: number, work: (tx: PgTransaction) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(new PgTransaction(client, deadlineMs));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (!broken) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
    }
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/**
 * Statements on the Prisma client's own `pg` pool outside any transaction (each takes a connection for itself), with
 * results shaped as Prisma's: the reads of a pass by feed range, page after page, without Prisma's conversion of
 * every row.
 */
export function pooledQueries(pool: pg.Pool): SqlClient {
  return {
    $queryRawUnsafe: async <T = unknown>(text: string, ...values: unknown[]): Promise<T> =>
      (await pool.query({ text, values, types })).rows as T,
    $executeRawUnsafe: async (text: string, ...values: unknown[]): Promise<number> =>
      (await pool.query({ text, values, types })).rowCount ?? 0,
  };
}
