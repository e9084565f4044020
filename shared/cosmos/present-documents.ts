import type { Container } from '@azure/cosmos';
import { PriorityLevel } from '@azure/cosmos';
import { type Clock, systemClock } from '../core/clock.js';
import { withRetries } from '../core/retry.js';
import { isThrottled, type ReadBudget, requestChargeOf, retriedThrottlesOf, throttleRetries } from './throttling.js';

/**
 * Which of a chunk of documents (id, pubkey) Cosmos still has, read cheaply: one query for the chunk's span
 * of ids, `SELECT c.id, c.pubkey FROM c WHERE c.id >= @first AND c.id <= @last`, ids and partition keys only.
 * A range on `id` is served from the default range index, so Cosmos charges for what it returns, not for the
 * container (an `IN (...)` list of the same ids is index-served too, but the text grows with every id and the
 * Cosmos double evaluates it id by id; the span is one pair of parameters). Documents in the span that are not
 * in the chunk are read and dropped, page by page, so memory is bounded by the chunk and one page.
 *
 * The query crosses partitions: the SDK sends it to every feed range (physical partition) in parallel.
 * @azure/cosmos 4.9.3 has no `feedRange` option on queries (FeedOptions lacks it; only the change feed takes
 * one), so scoping a query to one range by hand is not possible with this SDK.
 */

/** A document to look for. */
export interface DocumentKey {
  id: string;
  pubkey: string;
}

export interface PresenceOptions {
  budget?: ReadBudget;
  priorityLevel?: 'Low' | 'High';
  /** Documents per page of the answer. Default 1000. */
  pageSize?: number;
  /** Tries of the chunk's query when Cosmos keeps answering 429 after the SDK's own retries. Default 20. */
  throttleAttempts?: number;
  clock?: Clock;
}

export interface Presence {
  /** Keys ({@link documentKey}) of the chunk's documents that Cosmos has. */
  present: Set<string>;
  requestCharge: number;
  throttled: number;
}

/** The key of a document: its pubkey and id, as one string. */
export function documentKey(document: DocumentKey): string {
  return JSON.stringify([document.pubkey, document.id]);
}

/** Orders strings by Unicode code point, as Cosmos orders strings (not by UTF-16 code unit, as `<` does). */
function codePointOrder(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(j) ?? 0;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

/** The lowest and highest id of the chunk, by code point: every id of the chunk lies within. */
function spanOf(documents: readonly DocumentKey[]): { first: string; last: string } {
  let first = documents[0]?.id ?? '';
  let last = first;
  for (const { id } of documents) {
    if (codePointOrder(id, first) < 0) first = id;
    if (codePointOrder(id, last) > 0) last = id;
  }
  return { first, last };
}

/** Asks Cosmos which of `documents` exist (see the module comment); waits out 429s and the budget. */
export async function findPresent(
  container: Container,
  documents: readonly DocumentKey[],
  options: PresenceOptions = {},
): Promise<Presence> {
  const result: Presence = { present: new Set(), requestCharge: 0, throttled: 0 };
  if (documents.length === 0) return result;
  const wanted = new Set(documents.map(documentKey));
  const { first, last } = spanOf(documents);
  const clock = options.clock ?? systemClock;
  await withRetries(
    async () => {
      result.present.clear();
      const iterator = container.items.query<{ id: unknown; pubkey: unknown }>(
        {
          query: 'SELECT c.id, c.pubkey FROM c WHERE c.id >= @first AND c.id <= @last',
          parameters: [
            { name: '@first', value: first },
            { name: '@last', value: last },
          ],
        },
        {
          maxItemCount: options.pageSize ?? 1000,
          ...(options.priorityLevel ? { priorityLevel: PriorityLevel[options.priorityLevel] } : {}),
        },
      );
      while (iterator.hasMoreResults()) {
        await options.budget?.waitTurn();
        try {
          const page = await iterator.fetchNext();
          options.budget?.spend(page.requestCharge);
          result.requestCharge += page.requestCharge;
          result.throttled += retriedThrottlesOf(page);
          // A cross-partition query page that matches nothing comes back with no `resources` at all (the SDK leaves
          // it undefined rather than empty, though its type says an array): a page of rows all gone from Cosmos.
          const resources = page.resources as typeof page.resources | undefined;
          for (const found of resources ?? []) {
            if (typeof found.id !== 'string' || typeof found.pubkey !== 'string') continue;
            const key = documentKey({ id: found.id, pubkey: found.pubkey });
            if (wanted.has(key)) result.present.add(key);
          }
        } catch (error) {
          const charge = requestChargeOf(error);
          options.budget?.spend(charge);
          result.requestCharge += charge;
          result.throttled += retriedThrottlesOf(error) + (isThrottled(error) ? 1 : 0);
          throw error;
        }
      }
    },
    throttleRetries({ attempts: options.throttleAttempts, clock }),
  );
  return result;
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
