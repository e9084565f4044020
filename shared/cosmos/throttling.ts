import { type Clock, systemClock } from '../core/clock.js';

/**
 * Cosmos throttling, from the reader's side. The SDK already retries a 429 a few times on its own
 * (waiting the `x-ms-retry-after-ms` it is told); what reaches us has outlasted those retries, so we
 * wait at least as long as the server asks before trying again. The request-unit budget keeps a
 * migration from taking the throughput the live service needs in the first place.
 */

interface CosmosErrorLike {
  code?: unknown;
  statusCode?: unknown;
  retryAfterInMs?: unknown;
  retryAfterInMilliseconds?: unknown;
  headers?: Record<string, unknown>;
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

/**
 * At most `perSecond` request units per second on average, measured with each response's
 * `requestCharge`: after a request that cost `c`, the next one starts no sooner than `c / perSecond`
 * seconds after this one started. One request at a time (the reader never has two in flight).
 */
export class RequestUnitBudget {
  #nextStart = 0;

  constructor(
    readonly perSecond: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(perSecond > 0)) throw new RangeError('maxRequestUnitsPerSecond must be a positive number');
  }

  /** Waits until the budget allows the next request; returns when it was allowed to start. */
  async waitTurn(): Promise<number> {
    const wait = this.#nextStart - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
    return this.clock.now();
  }

  /** Books the charge of a request that started at `startedAt`. */
  spend(requestCharge: number, startedAt: number): void {
    this.#nextStart = Math.max(this.#nextStart, startedAt) + (requestCharge / this.perSecond) * 1000;
  }
}
