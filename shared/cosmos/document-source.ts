import type { Container, FeedOptions, QueryIterator, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { type Clock, systemClock } from '../core/clock.js';
import { withRetries } from '../core/retry.js';
import { type DocumentType, documentTypeNames, typeValuesOf } from '../domain/document-types.js';
import { isThrottled, RequestUnitBudget, retryAfterMs } from './throttling.js';

/**
 * Streams documents out of the Documents container a page at a time, so memory stays flat however big
 * the container is: at most two pages are held (the one the caller is writing and the next, read
 * meanwhile). Each page carries the continuation token to resume *after* it, which is what a migration
 * checkpoints. Queries always filter on `c.pubkey` themselves too, besides the partition-key option:
 * the local stand-in server ignores that option and would return every partition.
 */

/** Which documents to read. Fields combine (AND). */
export interface DocumentScope {
  /**
   * One document type (every `type` value it goes by, e.g. `account-settings` and `user-settings`),
   * `'other'` for documents whose `type` is missing or none of the seven, or absent for all documents.
   */
  type?: DocumentType | 'other';
  /** One user's documents: their logical partition. */
  pubkey?: string;
  /** Only documents written at or after this `_ts` (seconds). */
  changedSince?: number;
}

export interface SourcePage {
  documents: Record<string, unknown>[];
  /** Resume token for the pages after this one; undefined when this is the last page. */
  continuation: string | undefined;
  /** True on the last page. */
  done: boolean;
  requestCharge: number;
}

export interface ReadPagesOptions {
  /** `maxItemCount`: documents per page (Cosmos may return fewer). */
  batchSize: number;
  /** Start after the page this token was returned with. */
  continuation?: string;
  /** Request-unit budget for this reader; unlimited when absent. */
  maxRequestUnitsPerSecond?: number;
  /** Tries per page when Cosmos keeps answering 429 after the SDK's own retries. Default 20. */
  throttleAttempts?: number;
  /** Told each time we wait out a 429 (for logs and tests). */
  onThrottle?: (event: { attempt: number; waitMs: number }) => void;
  /** Time source for waits; tests pass a virtual clock. */
  clock?: Clock;
}

/**
 * The parameterised query for a scope: `SELECT <select> FROM c WHERE ...` (`select` is code, never
 * input), so what is read and what is counted ({@link countDocuments}) are the same set.
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
  if (scope.pubkey !== undefined) {
    conditions.push('c.pubkey = @pubkey');
    parameters.push({ name: '@pubkey', value: scope.pubkey });
  }
  if (scope.changedSince !== undefined) {
    conditions.push('c._ts >= @since');
    parameters.push({ name: '@since', value: scope.changedSince });
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  return { query: `SELECT ${select} FROM c${where}`, parameters };
}

/** How many documents the scope holds: one COUNT query, answered from Cosmos's index. */
export async function countDocuments(container: Container, scope: DocumentScope): Promise<number> {
  const { resources } = await container.items.query<number>(sourceQuery(scope, 'VALUE COUNT(1)')).fetchAll();
  // A cross-partition aggregate can arrive as one partial count per partition range.
  return resources.reduce((total, partial) => total + partial, 0);
}

/** One query's pages, with the position after the last page read, rebuilt from it after a failure. */
class PageReader {
  #iterator: QueryIterator<Record<string, unknown>>;
  #continuation: string | undefined;
  readonly #budget: RequestUnitBudget | undefined;

  constructor(
    private readonly container: Container,
    private readonly query: SqlQuerySpec,
    private readonly scope: DocumentScope,
    private readonly options: ReadPagesOptions,
    private readonly clock: Clock,
  ) {
    this.#continuation = options.continuation;
    this.#iterator = this.#open();
    this.#budget = options.maxRequestUnitsPerSecond ? new RequestUnitBudget(options.maxRequestUnitsPerSecond, clock) : undefined;
  }

  #open(): QueryIterator<Record<string, unknown>> {
    const feedOptions: FeedOptions = { maxItemCount: this.options.batchSize, continuationToken: this.#continuation };
    if (this.scope.pubkey !== undefined) feedOptions.partitionKey = this.scope.pubkey;
    return this.container.items.query<Record<string, unknown>>(this.query, feedOptions);
  }

  read(): Promise<SourcePage> {
    return withRetries(
      async () => {
        const startedAt = (await this.#budget?.waitTurn()) ?? this.clock.now();
        try {
          const response = await this.#iterator.fetchNext();
          this.#budget?.spend(response.requestCharge, startedAt);
          this.#continuation = response.continuationToken;
          return {
            documents: response.resources,
            continuation: response.continuationToken,
            done: !response.hasMoreResults,
            requestCharge: response.requestCharge,
          };
        } catch (error) {
          // After a failed fetch the iterator's position is unknown: start again from the last page read.
          this.#iterator = this.#open();
          throw error;
        }
      },
      {
        attempts: this.options.throttleAttempts ?? 20,
        isRetryable: isThrottled,
        minimumDelayOf: retryAfterMs,
        baseDelayMs: 500,
        maxDelayMs: 30_000,
        sleep: (ms) => this.clock.sleep(ms),
        onRetry: ({ attempt, delayMs }) => this.options.onThrottle?.({ attempt, waitMs: delayMs }),
      },
    );
  }
}

/**
 * Reads the ONE page that starts at `options.continuation` (the first page without one), with the same
 * throttling waits as {@link readDocumentPages} but nothing read ahead: for a caller that handles a
 * single page and hands the next position on (the queue's page messages).
 */
export function readDocumentPage(container: Container, scope: DocumentScope, options: ReadPagesOptions): Promise<SourcePage> {
  return new PageReader(container, sourceQuery(scope), scope, options, options.clock ?? systemClock).read();
}

/**
 * Reads the scope's documents page by page, fetching the next page while the caller works on the
 * current one. Resumable: pass a page's `continuation` to a later call to go on after that page.
 * Stop early with `break`; a page being prefetched is then dropped.
 */
export async function* readDocumentPages(
  container: Container,
  scope: DocumentScope,
  options: ReadPagesOptions,
): AsyncGenerator<SourcePage, void, undefined> {
  const reader = new PageReader(container, sourceQuery(scope), scope, options, options.clock ?? systemClock);
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
