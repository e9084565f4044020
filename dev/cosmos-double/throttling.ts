/**
 * Throttling on demand. A rule makes the next `times` matching requests answer 429 Too Many
 * Requests with `x-ms-retry-after-ms` and a substatus, as "Diagnose and troubleshoot Azure Cosmos DB
 * request rate too large (429) exceptions" (learn.microsoft.com/azure/cosmos-db/nosql/
 * troubleshoot-request-rate-too-large) describes: 3200 is the substatus for "the request exceeded
 * the provisioned throughput". The SDK retries those on its own, waiting what the header says.
 */

export type RequestOperation =
  | 'read'
  | 'create'
  | 'upsert'
  | 'replace'
  | 'delete'
  | 'query'
  | 'queryPlan'
  | 'changeFeed'
  | 'batch'
  | 'partitionKeyRanges'
  | 'metadata';

/** What a request is, as far as a throttle rule (or a test observing responses) needs to know. */
export interface RequestDescription {
  method: string;
  path: string;
  operation: RequestOperation;
  databaseId?: string;
  containerId?: string;
  /** `x-ms-documentdb-partitionkeyrangeid`, when the request names a range. */
  rangeId?: string;
  /** `x-ms-documentdb-partitionkey`, when the request names a logical partition. */
  partitionKey?: string;
  /** `x-ms-cosmos-priority-level` (Low or High), when the client sets one (priority-based execution). */
  priorityLevel?: string;
}

export interface ThrottleRule {
  /** How many matching requests to throttle. */
  times: number;
  /** Only requests this accepts are throttled (and counted); all requests when absent. */
  when?: (request: RequestDescription) => boolean;
  /** `x-ms-retry-after-ms`; 100 when absent. */
  retryAfterMs?: number;
  /** `x-ms-substatus`; 3200 (RU budget exceeded) when absent. */
  substatus?: number;
}

export interface Throttle {
  /** Matching requests still to be throttled. */
  readonly remaining: number;
  cancel(): void;
}

interface ActiveRule {
  rule: ThrottleRule;
  remaining: number;
}

export class Throttler {
  readonly #rules: ActiveRule[] = [];

  add(rule: ThrottleRule): Throttle {
    if (!Number.isInteger(rule.times) || rule.times < 1) throw new Error('A throttle rule needs times >= 1');
    const active: ActiveRule = { rule, remaining: rule.times };
    this.#rules.push(active);
    return {
      get remaining() {
        return active.remaining;
      },
      cancel: () => {
        active.remaining = 0;
      },
    };
  }

  /** The throttling this request gets, if a rule still applies to it. */
  take(request: RequestDescription): { retryAfterMs: number; substatus: number } | undefined {
    for (const active of this.#rules) {
      if (active.remaining === 0 || (active.rule.when && !active.rule.when(request))) continue;
      active.remaining -= 1;
      return { retryAfterMs: active.rule.retryAfterMs ?? 100, substatus: active.rule.substatus ?? 3200 };
    }
    return undefined;
  }
}
