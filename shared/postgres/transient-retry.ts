import { withRetries } from '../core/retry.js';
import { isTransientPostgresError } from './postgres-errors.js';

export interface TransientRetryOptions {
  /** How long after the first try a transient error may still be retried. */
  windowMs: number;
  /**
   * What else, besides a transient PostgreSQL error, is worth another try (a lost race, say): retried up to
   * {@link raceAttempts} times in all, whatever the window, since waiting longer does not settle a race.
   */
  alsoRetry?: (error: unknown) => boolean;
  /** Time source of the window; the wall clock unless a test pins one. */
  now?: () => number;
}

/** First wait, and the most any one wait grows to (full jitter below it: `core/retry.ts`). */
const baseDelayMs = 200;
const maxDelayMs = 5_000;
/** Tries a call gets for errors `alsoRetry` accepts. */
export const raceAttempts = 6;

/**
 * Runs `work` again after transient PostgreSQL errors (a restart, a failover, a dropped or silent connection:
 * `isTransientPostgresError`) with jittered exponential backoff, for as long as `windowMs` after the first try
 * allows; any other error, or one after the window, is thrown. Bounded by time rather than by a count of tries,
 * because an outage is measured in seconds, and a fast-failing connection attempt would spend a count in moments.
 */
export function retryTransient<T>(work: () => Promise<T>, options: TransientRetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const start = now();
  let races = 0;
  const isRetryable = (error: unknown): boolean => {
    if (now() - start >= options.windowMs) return false;
    if (isTransientPostgresError(error)) return true;
    if (!(options.alsoRetry?.(error) ?? false)) return false;
    races += 1;
    return races < raceAttempts;
  };
  return withRetries(work, { attempts: Number.MAX_SAFE_INTEGER, baseDelayMs, maxDelayMs, isRetryable });
}
