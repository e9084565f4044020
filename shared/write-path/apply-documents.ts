import { inPgTransaction } from '../postgres/pg-transaction.js';
import { isRowDataError, sqlStateOf, UNIQUE_VIOLATION } from '../postgres/postgres-errors.js';
import { type PostgresTimeouts, type PrismaClient, poolOf, setTransactionTimeouts, timeoutsOf } from '../postgres/prisma-client.js';
import type { CopyClient, SqlClient } from '../postgres/sql-client.js';
import { lockIdentities } from '../postgres/tombstones.js';
import { retryTransient } from '../postgres/transient-retry.js';
import { Accounting, type ApplyResult } from './accounting.js';
import { bisectingPass } from './bisect-refused-rows.js';
import { type Plan, planDocuments } from './plan-documents.js';
import { type QuarantineSource, saveQuarantine } from './quarantine.js';
import { findStaleUnmappable } from './stale-unmappable.js';
import { ConcurrentWriteError, type Refused, upsertPass, writeChunk } from './write-chunk.js';

export type { ApplyResult } from './accounting.js';

/**
 * THE write path from Cosmos documents to PostgreSQL, shared by the migration, the change-feed sync and
 * verification's repair, so all three obey the same rules and can run at the same time in any order:
 * - each document is mapped and planned (`plan-documents.ts`); one that cannot be mapped is quarantined
 *   with the reason;
 * - rows are written per type with one set-based statement per chunk (`write-chunk.ts`), version-guarded
 *   (`postgres/version-order.ts`): an older version never replaces a newer row, and re-applying a version
 *   changes nothing;
 * - a version older than a recorded delete of its document (a tombstone, see `postgres/tombstones.ts`) is not
 *   written: a page read before the delete cannot bring the row back; a newer one (re-created) clears it;
 * - identity guard: in a pubkey-keyed table (accounts, user_settings, notification_settings) a second
 *   document of the same pubkey with another id does not silently overwrite: the older of the two is
 *   quarantined with a reason naming the other (the newer one, arriving second, moves the older row
 *   there). An id already held by another pubkey's row is quarantined, never overwritten;
 * - a row PostgreSQL refuses (a value out of range or too large for an index, a constraint) is isolated
 *   (`bisect-refused-rows.ts`) and quarantined with the database's reason, and the rest is written;
 * - a successful write clears the document's quarantine entry (unless that entry is a newer version);
 * - everything for one call (rows, quarantine, the caller's `beforeCommit`) commits in ONE transaction,
 *   retried whole on transient PostgreSQL errors for the client's retry window (`timeoutsOf`). Pass pages,
 *   not containers. The transaction runs on a connection of the Prisma client's pool, on `pg` directly
 *   (`postgres/pg-transaction.ts`): the hot path, where Prisma's conversions cost as much as the rest.
 */

export interface ApplyOptions {
  /** Recorded on quarantine entries. */
  source: QuarantineSource;
  /**
   * Report what the write would do, keeping nothing: the call runs the very same statements and rolls them
   * back (the quarantine included), and `beforeCommit` is not called.
   */
  dryRun?: boolean;
  /** Insert new rows only; documents whose row exists are counted as `skipped`. */
  skipExisting?: boolean;
  /** Rows per statement. Default 2000: big enough to amortise a round trip, small enough to keep lock times short. */
  chunkSize?: number;
  /**
   * Runs inside the transaction, after the writes and before the commit (not in a dry run): a migration
   * saves its checkpoint here, so a page's rows and its checkpoint commit together or not at all.
   */
  beforeCommit?: (tx: SqlClient, result: ApplyResult) => Promise<void>;
}

const defaultChunkSize = 2000;

/**
 * Ends a dry run's transaction with a rollback, carrying what the writes did. Thrown out of the
 * transaction's callback (a transaction whose callback throws is rolled back), caught right outside it;
 * never retried, never seen by a caller.
 */
class DryRunRollback extends Error {
  override readonly name = 'DryRunRollback';
  constructor(readonly result: ApplyResult) {
    super('dry run: rolled back');
  }
}

/**
 * Everything one attempt does inside its transaction: the planned rows written chunk by chunk (through
 * the bisecting pass when `isolate`), refused rows and unmappable documents accounted for, and the
 * quarantine saved.
 */
async function execute(
  tx: CopyClient,
  plan: Plan,
  options: ApplyOptions,
  isolate: boolean,
  timeouts: PostgresTimeouts,
): Promise<ApplyResult> {
  await setTransactionTimeouts(tx, timeouts);
  // Before any row lock: a delete of one of these documents waits for this write, or this write for it.
  await lockIdentities(tx, identitiesOf(plan), 'shared');
  const upsertOptions = { skipExisting: options.skipExisting };
  const pass = isolate ? bisectingPass(tx, upsertOptions) : upsertPass(tx, upsertOptions);
  const chunkSize = options.chunkSize ?? defaultChunkSize;
  const books = new Accounting();
  books.superseded(plan.superseded);
  const refused: Refused[] = [];
  for (const { type, rounds } of plan.types) {
    for (const rows of rounds) {
      for (let start = 0; start < rows.length; start += chunkSize) {
        const chunk = await writeChunk(type, rows.slice(start, start + chunkSize), pass);
        for (const settled of chunk.settled) books.settled(type, settled);
        refused.push(...chunk.refused);
      }
    }
  }
  for (const row of refused) books.refused(row);
  // After the writes, so a version written in this same call makes an older unmappable copy stale.
  const stale = await findStaleUnmappable(tx, plan.unmappable, books.writtenRows);
  for (const item of plan.unmappable) books.unmappable(item, stale.has(item.index));
  await saveQuarantine(tx, books.quarantine, options.source);
  return books.result;
}

/**
 * One attempt in one transaction. A dry run runs the very same statements and then rolls back (its
 * `beforeCommit` is not called), so its outcome is by construction what the write would do. What that
 * costs: the page's rows stay locked until the rollback (concurrent writers of those rows, the sync
 * included, wait for it as they would for a real page), and every row it inserted or updated leaves a
 * dead tuple behind for autovacuum, as an aborted write does.
 */
async function inTransaction(prisma: PrismaClient, plan: Plan, options: ApplyOptions, isolate: boolean): Promise<ApplyResult> {
  try {
    const timeouts = timeoutsOf(prisma);
    return await inPgTransaction(poolOf(prisma), timeouts.queryTimeoutMs, async (tx) => {
      const result = await execute(tx, plan, options, isolate, timeouts);
      if (options.dryRun) throw new DryRunRollback(result);
      await options.beforeCommit?.(tx, result);
      return result;
    });
  } catch (error) {
    if (error instanceof DryRunRollback) return error.result;
    throw error;
  }
}

/** Every id the call writes or may quarantine as stale: what its advisory locks cover. */
function identitiesOf(plan: Plan): string[] {
  const ids = plan.types.flatMap(({ rounds }) => rounds.flatMap((round) => round.map((candidate) => candidate.row.id)));
  for (const { document } of plan.unmappable) {
    const id = (document as { id?: unknown } | null)?.id;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

/** Lost races with concurrent writers, and a unique-id race on a pubkey-keyed table: another try settles them. */
function isLostRace(error: unknown): boolean {
  return error instanceof ConcurrentWriteError || sqlStateOf(error) === UNIQUE_VIOLATION;
}

/**
 * Maps, writes and quarantines `documents` (see the module comment for the rules) and returns what
 * happened to each. Throws only for infrastructure failures and bugs: a transient PostgreSQL error
 * (serialization failure, deadlock, too many connections, admin shutdown, a lost, refused or silent
 * connection) is retried with jittered backoff for the client's retry window (a minute by default:
 * DATABASE_RETRY_WINDOW_SECONDS), anything else is thrown and nothing of the call is kept. The call runs
 * with one plain statement per chunk; only if PostgreSQL refuses a row's data is it run again with the
 * refused rows isolated.
 *
 * @example
 * const result = await applyDocuments(prisma, page, { source: 'sync' });
 * // result.written + result.unchanged + result.skipped + result.quarantined + result.failed === page.length
 */
export async function applyDocuments(prisma: PrismaClient, documents: readonly unknown[], options: ApplyOptions): Promise<ApplyResult> {
  const plan = planDocuments(documents);
  const { retryWindowMs } = timeoutsOf(prisma);
  const attempt = (isolate: boolean) =>
    retryTransient(() => inTransaction(prisma, plan, options, isolate), { windowMs: retryWindowMs, alsoRetry: isLostRace });
  try {
    return await attempt(false);
  } catch (error) {
    if (!isRowDataError(error)) throw error;
    return attempt(true);
  }
}
