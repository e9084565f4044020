import { z } from 'zod';
import { ageFormat, parseAge } from '../core/age.js';
import { type QuarantineFilter, type QuarantineStatus, quarantineStatuses } from '../postgres/quarantine-store.js';
import { maxListLimit } from './list-quarantine.js';

/** A selection of the quarantine as people give it: by status, type, reason code, user, and age in milliseconds. */
export interface QuarantineQuery {
  status?: QuarantineStatus | 'all';
  type?: string;
  reason?: string;
  /** The pubkey (partition key) the documents are stored under. */
  user?: string;
  /** Quarantined at least this long ago (milliseconds). */
  olderThanMs?: number;
  /** Quarantined less than this long ago (milliseconds). */
  newerThanMs?: number;
}

/** The store's filter for a query, ages counted back from `now`. */
export function filterOf(query: QuarantineQuery, now: number = Date.now()): QuarantineFilter {
  return {
    status: query.status ?? 'open',
    ...(query.type !== undefined ? { type: query.type } : {}),
    ...(query.reason !== undefined ? { reasonCode: query.reason } : {}),
    ...(query.user !== undefined ? { pubkey: query.user } : {}),
    ...(query.olderThanMs !== undefined ? { quarantinedBefore: new Date(now - query.olderThanMs) } : {}),
    ...(query.newerThanMs !== undefined ? { quarantinedAfter: new Date(now - query.newerThanMs) } : {}),
  };
}

/** Page size of a list when none is asked for. */
export const defaultListLimit = 50;

const age = z.string().transform((text, context) => {
  const ms = parseAge(text);
  if (ms === undefined) {
    context.addIssue({ code: 'custom', message: `expected ${ageFormat}` });
    return z.NEVER;
  }
  return ms;
});

/**
 * The query string of `GET /api/migration/quarantine`: the filters of `migrate:quarantine list` (`status`, `type`,
 * `reason`, `user`, `olderThan`, `newerThan`), `limit` and `after`. Unknown parameters are refused.
 */
export const quarantineQuerySchema = z
  .strictObject({
    status: z.enum([...quarantineStatuses, 'all']).optional(),
    type: z.string().min(1).max(255).optional(),
    reason: z.string().min(1).max(100).optional(),
    user: z.string().min(1).max(255).optional(),
    olderThan: age.optional(),
    newerThan: age.optional(),
    limit: z.coerce.number().int().min(1).max(maxListLimit).default(defaultListLimit),
    after: z.string().min(1).max(4096).optional(),
  })
  .transform(({ olderThan, newerThan, limit, after, ...rest }) => ({
    filter: filterOf({ ...rest, olderThanMs: olderThan, newerThanMs: newerThan }),
    limit,
    after,
  }));
