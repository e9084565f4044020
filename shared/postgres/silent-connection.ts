import type pg from 'pg';

/**
 * A connection that stays open but goes silent (a half-dead NAT entry, a failover that never sends a reset)
 * would hang a query for as long as TCP keeps the socket, which is many minutes. `pg` has a client-side
 * `query_timeout`, but it only fails the query: the connection stays busy with the unanswered query, and
 * Prisma's adapter then hands it back to the pool as healthy, so the next call on it hangs the same way. So
 * here a query that gets no answer within the deadline DESTROYS its connection: every query on it fails with
 * "Connection terminated unexpectedly" (a transient error the write path retries on a new connection), and
 * the pool drops it because it is no longer queryable.
 */

type QueryFunction = (...args: unknown[]) => unknown;

function isPromise(value: unknown): value is Promise<unknown> {
  return value instanceof Promise;
}

type Destroyable = pg.ClientBase & { connection?: { stream?: { destroy(): void } } };

/**
 * Destroys `client`'s socket unless the returned function is called within `deadlineMs`: for a query, or a
 * COPY (a submittable that {@link guardAgainstSilence} does not see), that the server may never answer.
 */
export function destroyUnlessDoneWithin(client: pg.ClientBase, deadlineMs: number): () => void {
  const timer = setTimeout(() => (client as Destroyable).connection?.stream?.destroy(), deadlineMs);
  // A pending deadline must not keep a finished process alive.
  timer.unref();
  return () => {
    clearTimeout(timer);
  };
}

/** Runs `query` with a deadline on its answer; the deadline destroys `client`'s socket. */
function guardedQuery(client: pg.ClientBase, query: QueryFunction, args: unknown[], deadlineMs: number): unknown {
  const done = destroyUnlessDoneWithin(client, deadlineMs);
  const last = args.length - 1;
  const callback = args[last];
  if (typeof callback === 'function') {
    const guardedArgs = [...args];
    guardedArgs[last] = (...results: unknown[]) => {
      done();
      return (callback as QueryFunction)(...results);
    };
    return query(...guardedArgs);
  }
  let result: unknown;
  try {
    result = query(...args);
  } catch (error) {
    done();
    throw error;
  }
  // A promise (how Prisma's adapter queries) settles when the answer, or the error, comes.
  if (isPromise(result)) result.then(done, done);
  // A submittable (a cursor, a COPY stream) reports through its own events; it is not guarded here.
  else done();
  return result;
}

/**
 * Makes every query `client` runs from now on fail within `deadlineMs` if the server does not answer, by
 * destroying the connection (see the module comment). For a pool's `onConnect`. `deadlineMs` must be longer
 * than any statement is allowed to run (the server's own `statement_timeout` cancels those cleanly first).
 */
export function guardAgainstSilence(client: pg.ClientBase, deadlineMs: number): void {
  const query = client.query.bind(client) as QueryFunction;
  Object.defineProperty(client, 'query', {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => guardedQuery(client, query, args, deadlineMs),
  });
}
