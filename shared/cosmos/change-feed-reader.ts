/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- ChangeFeedStartFrom.Beginning/Now/Time/Continuation
   return classes that do not extend ChangeFeedStartFrom, the type the iterator options declare: the SDK's documented usage. */
import {
  type ChangeFeedIteratorOptions,
  type ChangeFeedPullModelIterator,
  ChangeFeedStartFrom,
  type Container,
  PriorityLevel,
  ChangeFeedMode as SdkChangeFeedMode,
  StatusCodes,
} from '@azure/cosmos';
import type { ChangeFeedMode } from '../config/change-feed-mode.js';
import { type Clock, systemClock } from '../core/clock.js';
import { withRetries } from '../core/retry.js';
import { type FeedRangeBounds, feedRangeOf } from './feed-ranges.js';
import { isThrottled, type ReadBudget, requestChargeOf, retriedThrottlesOf, throttleRetries } from './throttling.js';

/**
 * The change feed's pull model, one feed range at a time ("Change feed pull model in Azure Cosmos DB",
 * learn.microsoft.com/azure/cosmos-db/nosql/change-feed-pull-model): pages of at most `maxItemCount`
 * changes from the beginning, from now, from a point in time or from a saved continuation, in either
 * mode ("Change feed modes", …/nosql/change-feed-modes). A page's continuation is where reading goes on
 * from: what a checkpoint saves. A range is caught up when a read answers 304 (nothing newer in any part
 * of it); that answer's continuation is where to continue later. A range that splits is followed into
 * its children by the SDK itself, from the same continuation.
 */

/** Where a reader starts. */
export type ChangeFeedStart =
  | { from: 'beginning' }
  | { from: 'now' }
  | { from: 'time'; time: Date }
  | { from: 'continuation'; continuation: string };

export interface ChangeFeedPage {
  /** The changes: documents (LatestVersion) or `{ current, previous?, metadata }` records (AllVersionsAndDeletes). */
  items: unknown[];
  /** Where the next read continues from. */
  continuation: string;
  /** The range answered 304: nothing newer in any part of it, now. */
  caughtUp: boolean;
  /** What the page was charged (`x-ms-request-charge`), failed attempts included. */
  requestCharge: number;
  /** 429s met reading the page: the SDK's own retries and the reader's. */
  throttled: number;
}

export interface ChangeFeedReadOptions {
  /** Changes per page at most (the service may return fewer). */
  maxItemCount: number;
  mode: ChangeFeedMode;
  /** `Low`: requests are throttled before the service's own High-priority traffic (needs priority-based execution on the account). */
  priorityLevel?: 'Low' | 'High';
  /** Request-unit budget the reads wait for and spend from. */
  budget?: ReadBudget;
  /** Tries per page when Cosmos keeps answering 429 after the SDK's own retries. Default 20. */
  throttleAttempts?: number;
  /** Told each time a 429 is waited out (for logs and tests). */
  onThrottle?: (event: { attempt: number; waitMs: number }) => void;
  /** Time source for waits; tests pass a virtual clock. */
  clock?: Clock;
}

/**
 * Reads one feed range page by page, with one SDK iterator kept across pages (an iterator holds the
 * routing it resolved, so the next page costs one request). After a failed read the iterator is rebuilt
 * from the last continuation read, so nothing is skipped or read twice by this reader.
 */
export class ChangeFeedReader {
  #iterator: ChangeFeedPullModelIterator<unknown> | undefined;
  #start: ChangeFeedStart;

  constructor(
    private readonly container: Container,
    private readonly range: FeedRangeBounds,
    start: ChangeFeedStart,
    private readonly options: ChangeFeedReadOptions,
  ) {
    if (options.mode === 'AllVersionsAndDeletes' && (start.from === 'beginning' || start.from === 'time')) {
      // "When using all versions and deletes mode, you must choose to start the change feed from Now() or from
      // a specific continuation token" (Change feed pull model, learn.microsoft.com); Cosmos answers 400 otherwise.
      throw new RangeError('the AllVersionsAndDeletes change feed starts only from now or from a saved continuation');
    }
    this.#start = start;
  }

  /** Where the next page starts: after the last page read. */
  get position(): ChangeFeedStart {
    return this.#start;
  }

  /** The next page, waiting out 429s (at least as long as the service asks) and the budget. */
  read(): Promise<ChangeFeedPage> {
    const clock = this.options.clock ?? systemClock;
    let throttled = 0;
    let requestCharge = 0;
    return withRetries(
      async () => {
        await this.options.budget?.waitTurn();
        try {
          this.#iterator ??= await this.#open();
          const response = await this.#iterator.readNext();
          const charge = chargeOf(response.headers);
          this.options.budget?.spend(charge);
          requestCharge += charge;
          throttled += retriedThrottlesOf(response);
          this.#start = { from: 'continuation', continuation: response.continuationToken };
          return {
            items: response.result,
            continuation: response.continuationToken,
            caughtUp: response.statusCode === StatusCodes.NotModified,
            requestCharge,
            throttled,
          };
        } catch (error) {
          const charge = requestChargeOf(error);
          this.options.budget?.spend(charge);
          requestCharge += charge;
          throttled += retriedThrottlesOf(error) + (isThrottled(error) ? 1 : 0);
          // Where a failed iterator stands is not known: the next try starts again from the last page read.
          this.#iterator = undefined;
          throw error;
        }
      },
      throttleRetries({ attempts: this.options.throttleAttempts, clock, onThrottle: this.options.onThrottle }),
    );
  }

  async #open(): Promise<ChangeFeedPullModelIterator<unknown>> {
    const options: ChangeFeedIteratorOptions = {
      maxItemCount: this.options.maxItemCount,
      changeFeedStartFrom: await this.#startFrom(),
      changeFeedMode:
        this.options.mode === 'AllVersionsAndDeletes' ? SdkChangeFeedMode.AllVersionsAndDeletes : SdkChangeFeedMode.LatestVersion,
    };
    if (this.options.priorityLevel) options.priorityLevel = PriorityLevel[this.options.priorityLevel];
    return this.container.items.getChangeFeedIterator<unknown>(options);
  }

  async #startFrom(): Promise<ChangeFeedStartFrom> {
    const start = this.#start;
    // A continuation names its range (and the children it split into) itself.
    if (start.from === 'continuation') return ChangeFeedStartFrom.Continuation(start.continuation);
    const range = await feedRangeOf(this.container, this.range);
    if (start.from === 'beginning') return ChangeFeedStartFrom.Beginning(range);
    if (start.from === 'now') return ChangeFeedStartFrom.Now(range);
    return ChangeFeedStartFrom.Time(start.time, range);
  }
}

/**
 * A response's charge from its `x-ms-request-charge` header. Not `ChangeFeedIteratorResponse.requestCharge`:
 * in @azure/cosmos 4.9 that getter parses the header with `parseInt`, dropping the fraction of every page's
 * charge (46.31 RU reads as 46), which would undercount a run's request units and overspend a budget.
 */
function chargeOf(headers: Record<string, unknown>): number {
  const value = Number(headers['x-ms-request-charge']);
  return Number.isFinite(value) ? value : 0;
}

/**
 * The ONE page of a range that starts at `start`, read with an iterator of its own: for a caller that
 * handles a single page and hands the next position on (the queue's page messages).
 */
export function readChangeFeedPage(
  container: Container,
  range: FeedRangeBounds,
  start: ChangeFeedStart,
  options: ChangeFeedReadOptions,
): Promise<ChangeFeedPage> {
  return new ChangeFeedReader(container, range, start, options).read();
}
