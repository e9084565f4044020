import { sleep } from './clock.js';

/**
 * Retries with full jitter (a random wait between 0 and an exponentially growing cap), so that many
 * workers failing together do not retry together. Only errors the caller classifies as transient are
 * retried; everything else is thrown at once. A server-given wait (Cosmos `retry-after`) is a minimum.
 */

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  isRetryable: (error: unknown) => boolean;
  /** The least wait the error itself asks for (e.g. a 429's retry-after), in milliseconds. */
  minimumDelayOf?: (error: unknown) => number;
  onRetry?: (event: { error: unknown; attempt: number; delayMs: number }) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Runs `work` until it succeeds, fails with an error that is not retryable, or runs out of attempts. */
export async function withRetries<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  const wait = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= attempts || !options.isRetryable(error)) throw error;
      const cap = Math.min(max, base * 2 ** (attempt - 1));
      const delayMs = Math.max(Math.round(random() * cap), options.minimumDelayOf?.(error) ?? 0);
      options.onRetry?.({ error, attempt, delayMs });
      await wait(delayMs);
    }
  }
}
