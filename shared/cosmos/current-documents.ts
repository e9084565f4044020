import type { Container } from '@azure/cosmos';
import { PriorityLevel } from '@azure/cosmos';
import { systemClock } from '../core/clock.js';
import { withRetries } from '../core/retry.js';
import type { PointRead } from './point-reads.js';
import type { PresenceOptions } from './present-documents.js';
import { isThrottled, requestChargeOf, retriedThrottlesOf, throttleRetries } from './throttling.js';

/** What {@link readCurrentDocuments} found: each entry with its document as Cosmos has it now, or without one when it is gone. */
export interface CurrentDocuments<T extends PointRead> {
  found: Array<{ entry: T; document?: Record<string, unknown> }>;
  requestCharge: number;
  throttled: number;
}

/** Point reads in flight at once. */
const readConcurrency = 8;

/**
 * Reads documents' CURRENT state by point read (id and partition key of any kind: text, a number, null,
 * none), under the read budget and at its priority, waiting out 429s: what the quarantine's retry and its
 * sweep act on. A 404 is an answer (the document is gone); anything else that fails is thrown.
 */
export async function readCurrentDocuments<T extends PointRead>(
  container: Container,
  entries: readonly T[],
  options: PresenceOptions = {},
): Promise<CurrentDocuments<T>> {
  const clock = options.clock ?? systemClock;
  const result: CurrentDocuments<T> = { found: [], requestCharge: 0, throttled: 0 };
  const readOne = (entry: T) =>
    withRetries(
      async () => {
        await options.budget?.waitTurn();
        try {
          // `{}` is the SDK's "none" partition key: an item stored without a value at /pubkey.
          const partitionKey = entry.partitionKey !== null && typeof entry.partitionKey === 'object' ? {} : entry.partitionKey;
          const response = await container.item(entry.id, partitionKey).read<Record<string, unknown>>({
            ...(options.priorityLevel ? { priorityLevel: PriorityLevel[options.priorityLevel] } : {}),
          });
          options.budget?.spend(response.requestCharge);
          result.requestCharge += response.requestCharge;
          result.throttled += retriedThrottlesOf(response);
          return { entry, document: response.resource ?? undefined };
        } catch (error) {
          const charge = requestChargeOf(error);
          options.budget?.spend(charge);
          result.requestCharge += charge;
          result.throttled += retriedThrottlesOf(error) + (isThrottled(error) ? 1 : 0);
          throw error;
        }
      },
      throttleRetries({ attempts: options.throttleAttempts, clock }),
    );
  for (let start = 0; start < entries.length; start += readConcurrency) {
    result.found.push(...(await Promise.all(entries.slice(start, start + readConcurrency).map(readOne))));
  }
  return result;
}
