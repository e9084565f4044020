import type { AppContext } from '../context/app-context.js';
import { ChangeFeedReader } from '../cosmos/change-feed-reader.js';
import { parseRangeKey } from '../cosmos/feed-ranges.js';
import type { PartitionKeyScheme } from '../cosmos/partition-key-hash.js';
import { inPgTransaction, pooledQueries } from '../postgres/pg-transaction.js';
import { poolOf, timeoutsOf } from '../postgres/prisma-client.js';
import { type RangeRow, rangePageAfter, recordSeenKeys } from '../postgres/range-rows.js';
import type { SqlClient } from '../postgres/sql-client.js';
import { commitRangePage, type PassRange } from './pass-ranges.js';
import type { ReadSettings } from './read-budget.js';

/**
 * One feed range of a pass by feed range (verification of everything, reconcile), step by step: first its
 * documents, read from the beginning of its change feed (LatestVersion: each document once, at its latest version;
 * done at the first 304, as the full load's ranges are), each page's documents remembered as seen keys; then its
 * PostgreSQL rows, walked in pages, each row said to be seen or not. What a page means is the caller's
 * (`RangeHandlers`); the engine commits every page with the range's new position, compare-and-set
 * (`pass-ranges.ts`), so a range resumes after its last committed page, in any process.
 *
 * Why the change feed rather than a query pinned to the range: it is the one way @azure/cosmos 4.x reads a feed
 * range (its query options have no feed range), and Microsoft's guidance makes it the cheaper one anyway. A query's
 * charge grows with the items it loads, and one with no filter (every document of a range) is the least efficient
 * read there is ("Optimize request cost in Azure Cosmos DB", learn.microsoft.com/azure/cosmos-db/
 * optimize-cost-reads-writes); the change feed pull model is the documented way to make "a one-time read of the
 * existing data", in parallel by feed range (learn.microsoft.com/azure/cosmos-db/nosql/change-feed-pull-model).
 * The Cosmos double charges a change-feed page 1 RU plus 0.01 RU per item examined and 1 RU per KB returned, a query
 * page 2.5 RU plus 0.025 RU per document examined and 1 RU per KB: reading a range costs what the full load's read
 * of it costs (docs/performance.md, "Verification and reconcile by feed range").
 */

/** What a range is read with. */
export interface RangeWork {
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>;
  /** The container's partition key hash, which the rows' EPKs were computed with. */
  scheme: PartitionKeyScheme;
  reads: ReadSettings;
  /** Documents per change-feed page, and rows per walk page. */
  batchSize: number;
}

/** A reading page's size and cost. */
export interface ReadPage {
  documents: number;
  requestCharge: number;
  throttled: number;
}

/** What a pass does with a range's pages. */
export interface RangeHandlers {
  /** A page of the range's documents, before it commits (verification compares them here, and repairs). */
  documents?(documents: readonly Record<string, unknown>[]): Promise<void>;
  /** In the reading page's transaction, before the range moves on (reconcile adds the page to its pass's counts). */
  readCommitting?(tx: SqlClient, page: ReadPage): Promise<void>;
  /** Once the reading page has committed. */
  readCommitted?(page: ReadPage): void;
  /**
   * A page of the range's rows (possibly none, the walk's end). The handler matches them and commits the page by
   * calling `commit` inside the transaction that does the page's work (removals, counts); it returns what `commit` did.
   */
  rows(rows: readonly RangeRow[], commit: (tx: SqlClient) => Promise<PassRange>): Promise<PassRange>;
}

export interface RangeStepOptions {
  /** Stop after this many committed pages (a queue step's share); default no limit. */
  maxPages?: number;
  /** Checked after every committed page: the range stops there, resumable. */
  signal?: AbortSignal;
  /** After every committed page. */
  onPage?(range: PassRange): void;
}

export interface RangeStep {
  /** Where the range stands now. */
  range: PassRange;
  /** Pages committed by this step. */
  pages: number;
}

/** The keys of a page's documents that a row can have: strings PostgreSQL text can hold. */
function seenKeysOf(documents: readonly Record<string, unknown>[]): Array<{ pubkey: string; id: string }> {
  const keys: Array<{ pubkey: string; id: string }> = [];
  for (const { pubkey, id } of documents) {
    if (typeof pubkey === 'string' && typeof id === 'string' && !pubkey.includes('\0') && !id.includes('\0')) keys.push({ pubkey, id });
  }
  return keys;
}

/**
 * Steps `range` forward from where it stands, page by page, until it is done, `maxPages` pages are committed or
 * the signal is aborted; throws `RangeMovedError` when another process or delivery committed a page of it first.
 */
export async function stepRange(
  work: RangeWork,
  range: PassRange,
  handlers: RangeHandlers,
  options: RangeStepOptions = {},
): Promise<RangeStep> {
  const { prisma } = work.ctx;
  const maxPages = options.maxPages ?? Number.POSITIVE_INFINITY;
  const bounds = parseRangeKey(range.rangeKey);
  if (!bounds) throw new Error(`pass ${range.passId} has a range ${range.rangeKey} that is not a feed range`);
  let at: PassRange = range;
  let pages = 0;
  const more = () => pages < maxPages && !options.signal?.aborted;

  if (at.phase === 'reading' && more()) {
    const start =
      at.continuation === null ? { from: 'beginning' as const } : { from: 'continuation' as const, continuation: at.continuation };
    const reader = new ChangeFeedReader(work.ctx.cosmos, bounds, start, {
      maxItemCount: work.batchSize,
      mode: 'LatestVersion',
      budget: work.reads.budget,
      priorityLevel: work.reads.priorityLevel,
    });
    const pool = poolOf(prisma);
    const deadline = timeoutsOf(prisma).queryTimeoutMs;
    let next = reader.read();
    while (at.phase === 'reading') {
      const page = await next;
      // The next page is read while this one is matched and committed, unless this step ends after it (its charge
      // would be spent for nothing).
      if (!page.caughtUp && pages + 1 < maxPages) {
        next = reader.read();
        next.catch(() => undefined);
      }
      const documents = page.items as Record<string, unknown>[];
      await handlers.documents?.(documents);
      const cost: ReadPage = { documents: documents.length, requestCharge: page.requestCharge, throttled: page.throttled };
      const from = at;
      at = await inPgTransaction(pool, deadline, async (tx) => {
        await recordSeenKeys(tx, from.id, seenKeysOf(documents));
        await handlers.readCommitting?.(tx, cost);
        return commitRangePage(tx, from, {
          phase: page.caughtUp ? 'matching' : 'reading',
          continuation: page.continuation,
          cursor: null,
          documents: documents.length,
        });
      });
      pages += 1;
      handlers.readCommitted?.(cost);
      options.onPage?.(at);
      if (at.phase === 'reading' && !more()) return { range: at, pages };
    }
  }

  const sql = pooledQueries(poolOf(prisma));
  const target = { rangeId: at.id, scheme: work.scheme, bounds };
  // Pubkeys looked up per page: about what fills a page, learnt from the last one (most users have a few rows each).
  let keysLimit = Math.max(1, Math.ceil(work.batchSize / 4));
  while (at.phase === 'matching' && more()) {
    const page = await rangePageAfter(sql, target, at.cursor, work.batchSize, keysLimit);
    if (page.keys > 0 && page.rows.length > 0) {
      keysLimit = Math.min(work.batchSize, Math.max(1, Math.ceil((work.batchSize * page.keys * 1.25) / page.rows.length)));
    }
    const from = at;
    at = await handlers.rows(page.rows, (tx) =>
      commitRangePage(tx, from, {
        phase: page.done ? 'done' : 'matching',
        continuation: from.continuation,
        cursor: page.next,
        scanned: page.rows.length,
      }),
    );
    pages += 1;
    options.onPage?.(at);
  }
  return { range: at, pages };
}

/**
 * Runs `work` for each item, `concurrency` at a time; the first failure stops the items not started yet (and is
 * thrown once every started one has ended), as `stop` tells the started ones to end after their current page.
 */
export async function inLanes<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, stop: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const stop = new AbortController();
  const abort = () => stop.abort(signal?.reason);
  signal?.addEventListener('abort', abort, { once: true });
  const pending = [...items];
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    for (let item = pending.shift(); item !== undefined && !failure && !stop.signal.aborted; item = pending.shift()) {
      try {
        await work(item, stop.signal);
      } catch (error) {
        failure ??= { error };
        stop.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, pending.length)) }, lane));
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  if (failure) throw failure.error;
}
