import { type Clock, systemClock } from '../core/clock.js';
import type { RetryOptions } from '../core/retry.js';

/**
 * Cosmos throttling, from the reader's side. The SDK already retries a 429 a few times on its own
 * (waiting the `x-ms-retry-after-ms` it is told); what reaches us has outlasted those retries, so we
 * wait at least as long as the server asks before trying again. A request-unit budget keeps a migration
 * from taking the throughput the live service needs in the first place.
 */

interface CosmosErrorLike {
  code?: unknown;
  statusCode?: unknown;
  retryAfterInMs?: unknown;
  retryAfterInMilliseconds?: unknown;
  headers?: Record<string, unknown>;
}

/**
 * How every read of Cosmos waits out the 429s the SDK's own retries did not absorb: at least the retry-after the
 * server asked for, with jittered backoff from 0.5 s up to 30 s, `attempts` tries in all (default 20).
 */
export function throttleRetries(options: {
  attempts?: number | undefined;
  clock: Clock;
  onThrottle?: ((event: { attempt: number; waitMs: number }) => void) | undefined;
}): RetryOptions {
  const { onThrottle } = options;
  return {
    attempts: options.attempts ?? 20,
    isRetryable: isThrottled,
    minimumDelayOf: retryAfterMs,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    sleep: (ms) => options.clock.sleep(ms),
    ...(onThrottle ? { onRetry: ({ attempt, delayMs }) => onThrottle({ attempt, waitMs: delayMs }) } : {}),
  };
}

/** A Cosmos "request rate too large" (HTTP 429). */
export function isThrottled(error: unknown): boolean {
  const e = error as CosmosErrorLike | null;
  return e?.code === 429 || e?.statusCode === 429;
}

/** How long the server asked us to wait, in milliseconds (0 if it did not say). */
export function retryAfterMs(error: unknown): number {
  const e = error as CosmosErrorLike | null;
  const candidates = [e?.retryAfterInMs, e?.retryAfterInMilliseconds, e?.headers?.['x-ms-retry-after-ms']];
  for (const candidate of candidates) {
    const value = typeof candidate === 'string' ? Number(candidate) : candidate;
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  }
  return 0;
}

interface WithDiagnostics {
  diagnostics?: { clientSideRequestStatistics?: { retryDiagnostics?: { failedAttempts?: Array<{ statusCode?: unknown }> } } };
}

/**
 * The 429s the SDK met and retried on its own before it answered (a response) or gave up (an error), as
 * its diagnostics list them (`retryDiagnostics.failedAttempts`). They never reach our code otherwise, yet
 * they are most of the throttling a reader meets: counted per run, they show whether a budget is too high.
 */
export function retriedThrottlesOf(source: unknown): number {
  const attempts = (source as WithDiagnostics | null)?.diagnostics?.clientSideRequestStatistics?.retryDiagnostics?.failedAttempts;
  return Array.isArray(attempts) ? attempts.filter((attempt) => attempt.statusCode === 429).length : 0;
}

/** Request units a failed request was charged, when its error says (a throttled one costs nothing). */
export function requestChargeOf(error: unknown): number {
  const charge = (error as { requestCharge?: unknown } | null)?.requestCharge;
  return typeof charge === 'number' && Number.isFinite(charge) ? charge : 0;
}

/**
 * Where request units come from: takes `requestUnits` from a token bucket and says how long the caller
 * must wait before spending them (the bucket may be in debt to other takers). In this process's memory
 * ({@link localRequestUnits}), or in PostgreSQL so that every process reading under one budget shares it.
 */
export type RequestUnitSource = (requestUnits: number) => Promise<{ waitMs: number }>;

/** What readers hold on to: a turn before each request, the request's real charge after it. */
export interface ReadBudget {
  /** Resolves when the next request may start. */
  waitTurn(): Promise<void>;
  /** Books what a request was charged (`x-ms-request-charge`), known only once it is answered. */
  spend(requestCharge: number): void;
  /**
   * Books at once what the requests spent beyond what was granted (a debt otherwise paid by the NEXT request's
   * turn) and waits until the budget has covered it, or until `signal` aborts. A run calls it before it ends:
   * without it, the charge of a run's last requests is in no bucket, and a run of one request (one user's
   * partition) is never held to the budget at all.
   */
  settle(signal?: AbortSignal): Promise<void>;
}

/** The bucket of a budget holds about this much: a short burst is allowed, never a long one. */
export const burstSeconds = 1;

/**
 * A token bucket refilled at `perSecond`, holding at most {@link burstSeconds} of it. Each take is booked
 * at once, so the tokens may go below zero: the taker then waits until the refill has covered its take.
 * The same rule as the PostgreSQL bucket (`postgres/request-unit-budgets.ts`), for a single process.
 */
export function localRequestUnits(perSecond: number, clock: Clock = systemClock): RequestUnitSource {
  const capacity = perSecond * burstSeconds;
  let tokens = capacity;
  let refilledAt = clock.now();
  return (requestUnits) => {
    const now = clock.now();
    tokens = Math.min(capacity, tokens + (perSecond * (now - refilledAt)) / 1000) - requestUnits;
    refilledAt = now;
    return Promise.resolve({ waitMs: tokens < 0 ? (-tokens / perSecond) * 1000 : 0 });
  };
}

/**
 * At most `perSecond` request units per second, measured with each response's `requestCharge`, for
 * every request made through this object (all the reads of this process). A request's charge is known
 * only after it is answered, so requests spend from a local balance granted by `source` in small amounts
 * (`grantSeconds` of the budget each); a request that costs more than the balance leaves a debt, which
 * the next grant covers first. Over any window the requests spend what the source granted, give or take
 * one grant and the requests in flight. This is the pattern of the Spark connector's global throughput
 * control (learn.microsoft.com/azure/cosmos-db/nosql/throughput-control-spark), with the shared bucket
 * kept in PostgreSQL instead of a Cosmos container.
 */
export class RequestUnitBudget implements ReadBudget {
  #balance = 0;
  #granting: Promise<void> | undefined;
  readonly #grant: number;

  constructor(
    readonly perSecond: number,
    private readonly source: RequestUnitSource,
    private readonly clock: Clock = systemClock,
    grantSeconds = 0.2,
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError('a request-unit budget must be a positive number per second');
    this.#grant = perSecond * grantSeconds;
  }

  async waitTurn(): Promise<void> {
    // One grant at a time per process: concurrent readers wait for the same one instead of each taking their own.
    while (this.#balance <= 0) {
      this.#granting ??= this.#take().finally(() => {
        this.#granting = undefined;
      });
      await this.#granting;
    }
  }

  spend(requestCharge: number): void {
    if (Number.isFinite(requestCharge) && requestCharge > 0) this.#balance -= requestCharge;
  }

  async settle(signal?: AbortSignal): Promise<void> {
    // After any grant in flight, which may already count the debt.
    while (this.#granting) await this.#granting;
    if (this.#balance >= 0) return;
    const debt = -this.#balance;
    // Booked here before the source is asked, so that a turn taken meanwhile does not book it a second time.
    this.#balance = 0;
    let waitMs: number;
    try {
      ({ waitMs } = await this.source(debt));
    } catch (error) {
      this.#balance -= debt;
      throw error;
    }
    if (waitMs > 0) await this.clock.sleep(waitMs, signal);
  }

  async #take(): Promise<void> {
    const amount = this.#grant - Math.min(0, this.#balance);
    const { waitMs } = await this.source(amount);
    if (waitMs > 0) await this.clock.sleep(waitMs);
    this.#balance += amount;
  }
}
