import type { Container } from '@azure/cosmos';
import { PriorityLevel } from '@azure/cosmos';
import { type Clock, systemClock } from '../core/clock.js';
import { withRetries } from '../core/retry.js';
import { isThrottled, type ReadBudget, requestChargeOf, retriedThrottlesOf, throttleRetries } from './throttling.js';

/**
 * Whether documents exist in Cosmos now, by point read (id and partition key): what a reconcile pass waits for
 * right before it removes a row whose document its feed range's read did not find.
 */

/** A document to look for. */
export interface DocumentKey {
  id: string;
  pubkey: string;
}

export interface PresenceOptions {
  budget?: ReadBudget;
  priorityLevel?: 'Low' | 'High';
  /** Tries of a point read when Cosmos keeps answering 429 after the SDK's own retries. Default 20. */
  throttleAttempts?: number;
  clock?: Clock;
}

/** One point read's answer for {@link readCurrent}. */
export interface CurrentState<T extends DocumentKey> {
  entry: T;
  present: boolean;
}

/** Point reads in flight at once. */
const pointReadConcurrency = 8;

/**
 * Whether each document exists NOW, by point read (id and partition key; a 404 is an answer), under the budget:
 * the confirmation a removal waits for. Throws on anything but an answer, after waiting out 429s.
 */
export async function readCurrent<T extends DocumentKey>(
  container: Container,
  entries: readonly T[],
  options: PresenceOptions = {},
): Promise<{ states: Array<CurrentState<T>>; requestCharge: number; throttled: number }> {
  const clock = options.clock ?? systemClock;
  const states: Array<CurrentState<T>> = [];
  let requestCharge = 0;
  let throttled = 0;
  const readOne = (entry: T) =>
    withRetries(
      async () => {
        await options.budget?.waitTurn();
        try {
          const response = await container.item(entry.id, entry.pubkey).read({
            ...(options.priorityLevel ? { priorityLevel: PriorityLevel[options.priorityLevel] } : {}),
          });
          options.budget?.spend(response.requestCharge);
          requestCharge += response.requestCharge;
          throttled += retriedThrottlesOf(response);
          return { entry, present: response.resource !== undefined };
        } catch (error) {
          const charge = requestChargeOf(error);
          options.budget?.spend(charge);
          requestCharge += charge;
          throttled += retriedThrottlesOf(error) + (isThrottled(error) ? 1 : 0);
          throw error;
        }
      },
      throttleRetries({ attempts: options.throttleAttempts, clock }),
    );
  for (let start = 0; start < entries.length; start += pointReadConcurrency) {
    states.push(...(await Promise.all(entries.slice(start, start + pointReadConcurrency).map(readOne))));
  }
  return { states, requestCharge, throttled };
}
