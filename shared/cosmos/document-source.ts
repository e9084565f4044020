import type { Container, FeedOptions, QueryIterator, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { PriorityLevel } from '@azure/cosmos';
import { type Clock, systemClock } from '../core/clock.js';
import { withRetries } from '../core/retry.js';
import { type DocumentType, documentTypeNames, typeValuesOf } from '../domain/document-types.js';
import { isThrottled, type ReadBudget, requestChargeOf, retriedThrottlesOf, throttleRetries } from './throttling.js';

/**
 * Documents read with queries, a page at a time, for what is read by user or by type rather than by
 * feed range: `migrate:user` (one user's partition) and verification (each type in turn).
 *
 * Which way a query is resumed matters, because @azure/cosmos 4.x supports few:
 * - one user: a single-partition query (the `partitionKey` option). Its continuation token resumes in a new
 *   iterator as documented, so a run can checkpoint after any page and go on in another process
 *   ({@link readDocumentPage}).
 * - a type across partitions: ONE iterator is kept for all the pages of a read ({@link readDocumentPages}),
 *   and rebuilt from the last token only after a failed page. A cross-partition continuation token can be
 *   given to a new iterator only with `enableQueryControl: true`, and in @azure/cosmos 4.9.3 that resumption
 *   is not reliable: when a range's next page comes back empty without a continuation (which Cosmos does
 *   for filtered queries), the composite token keeps that range's old token and drops the ranges after it
 *   that had finished, so the next iterator reads those ranges again from their start (duplicates) or asks
 *   for the same empty page for ever (the Cosmos double reproduces both with a type filter and 5-9 documents
 *   a page). So nothing that must resume across processes reads a type with a query: whole types are read
 *   from the change feed by feed range (migration/part-reader.ts).
 * At most two pages are held (the one the caller is writing and the next, read meanwhile).
 */

/** Which documents to read. Fields combine (AND). */
export interface DocumentScope {
  /**
   * One document type (every `type` value it goes by, e.g. `account-settings` and `user-settings`),
   * `'other'` for documents whose `type` is missing or none of the seven, or absent for all documents.
   */
  type?: DocumentType | 'other';
  /** One user's documents: their logical partition (a single-partition query). */
  pubkey?: string;
}

export interface SourcePage {
  documents: Record<string, unknown>[];
  /** Resume token for the pages after this one; undefined when this is the last page. */
  continuation: string | undefined;
  /** True on the last page. */
  done: boolean;
  requestCharge: number;
  /** 429s met reading the page: the SDK's own retries and the reader's. */
  throttled: number;
}

export interface ReadPagesOptions {
  /** `maxItemCount`: documents per page (Cosmos may return fewer, even none on a page that is not the last). */
  batchSize: number;
  /** Start after the page this token was returned with. */
  continuation?: string;
  /** Request-unit budget the reads wait for and spend from; unlimited when absent. */
  budget?: ReadBudget;
  /** `Low`: throttled before the service's own traffic (needs priority-based execution on the account). */
  priorityLevel?: 'Low' | 'High';
  /** Tries per page when Cosmos keeps answering 429 after the SDK's own retries. Default 20. */
  throttleAttempts?: number;
  /** Told each time we wait out a 429 (for logs and tests). */
  onThrottle?: (event: { attempt: number; waitMs: number }) => void;
  /** Time source for waits; tests pass a virtual clock. */
  clock?: Clock;
}

/**
 * The parameterised query for a scope: `SELECT <select> FROM c WHERE ...` (`select` is code, never
 * input), so what is read and what is counted ({@link countDocuments}) are the same set. A user's scope
 * adds no condition: it is the partition the query is sent to.
 */
export function sourceQuery(scope: DocumentScope, select = '*'): SqlQuerySpec {
  const conditions: string[] = [];
  const parameters: SqlParameter[] = [];
  const typeList = (names: readonly string[]) => {
    const placeholders = names.map((name, index) => {
      parameters.push({ name: `@type${index}`, value: name });
      return `@type${index}`;
    });
    return `(${placeholders.join(', ')})`;
  };
  if (scope.type === 'other') {
    const all = documentTypeNames.flatMap((type) => typeValuesOf(type));
    // `undefined IN (...)` is undefined, and NOT undefined is still undefined: say "missing" explicitly.
    conditions.push(`(NOT IS_DEFINED(c.type) OR NOT (c.type IN ${typeList(all)}))`);
  } else if (scope.type) {
    conditions.push(`c.type IN ${typeList(typeValuesOf(scope.type))}`);
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  return { query: `SELECT ${select} FROM c${where}`, parameters };
}

/**
 * The feed options of a scope's query: its partition when it is one user's; otherwise across partitions
 * with `enableQueryControl`, the only way the SDK takes a continuation token there (after a failed page).
 */
function feedOptionsOf(scope: DocumentScope, options: Pick<ReadPagesOptions, 'priorityLevel'>): FeedOptions {
  const feed: FeedOptions = scope.pubkey !== undefined ? { partitionKey: scope.pubkey } : { enableQueryControl: true };
  if (options.priorityLevel) feed.priorityLevel = PriorityLevel[options.priorityLevel];
  return feed;
}

/** How many documents the scope holds: one COUNT query, answered from Cosmos's index. */
export async function countDocuments(container: Container, scope: DocumentScope): Promise<number> {
  const feed = scope.pubkey !== undefined ? { partitionKey: scope.pubkey } : {};
  const { resources } = await container.items.query<number>(sourceQuery(scope, 'VALUE COUNT(1)'), feed).fetchAll();
  // A cross-partition aggregate can arrive as one total or as one partial count per partition range.
  return resources.reduce((total, partial) => total + partial, 0);
}

/** One query's pages with one iterator, rebuilt from the last page's continuation after a failure. */
class PageReader {
  #iterator: QueryIterator<Record<string, unknown>>;
  #continuation: string | undefined;

  constructor(
    private readonly container: Container,
    private readonly scope: DocumentScope,
    private readonly options: ReadPagesOptions,
  ) {
    this.#continuation = options.continuation;
    this.#iterator = this.#open();
  }

  #open(): QueryIterator<Record<string, unknown>> {
    return this.container.items.query<Record<string, unknown>>(sourceQuery(this.scope), {
      ...feedOptionsOf(this.scope, this.options),
      maxItemCount: this.options.batchSize,
      continuationToken: this.#continuation,
    });
  }

  /** The next page, waiting out 429s (at least as long as the service asks) and the budget. */
  read(): Promise<SourcePage> {
    const { options } = this;
    const clock = options.clock ?? systemClock;
    let throttled = 0;
    let requestCharge = 0;
    return withRetries(
      async () => {
        await options.budget?.waitTurn();
        try {
          const response = await this.#iterator.fetchNext();
          options.budget?.spend(response.requestCharge);
          requestCharge += response.requestCharge;
          throttled += retriedThrottlesOf(response);
          // An empty token is the end, whatever `hasMoreResults` says of an iterator that was given one.
          this.#continuation = response.continuationToken || undefined;
          const done = this.#continuation === undefined || !this.#iterator.hasMoreResults();
          return { documents: response.resources, continuation: this.#continuation, done, requestCharge, throttled };
        } catch (error) {
          const charge = requestChargeOf(error);
          options.budget?.spend(charge);
          requestCharge += charge;
          throttled += retriedThrottlesOf(error) + (isThrottled(error) ? 1 : 0);
          // After a failed fetch the iterator's position is unknown: start again from the last page read.
          this.#iterator = this.#open();
          throw error;
        }
      },
      throttleRetries({ attempts: options.throttleAttempts, clock, onThrottle: options.onThrottle }),
    );
  }
}

/**
 * Reads the ONE page of a user's partition that starts at `options.continuation` (the first page
 * without one), with an iterator of its own: for a caller that handles a single page and hands the next
 * position on. Single-partition only: see the module comment for why a type is not read this way.
 */
export function readDocumentPage(
  container: Container,
  scope: DocumentScope & { pubkey: string },
  options: ReadPagesOptions,
): Promise<SourcePage> {
  return new PageReader(container, scope, options).read();
}

/**
 * Reads the scope's documents page by page with one iterator, fetching the next page while the caller
 * works on the current one. Stop early with `break`; a page being prefetched is then dropped.
 */
export async function* readDocumentPages(
  container: Container,
  scope: DocumentScope,
  options: ReadPagesOptions,
): AsyncGenerator<SourcePage, void, undefined> {
  const reader = new PageReader(container, scope, options);
  let next = reader.read();
  for (;;) {
    const page = await next;
    if (!page.done) {
      next = reader.read();
      // Observed when awaited; this keeps an abandoned prefetch from becoming an unhandled rejection.
      next.catch(() => undefined);
    }
    yield page;
    if (page.done) return;
  }
}
