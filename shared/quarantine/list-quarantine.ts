import type { PrismaClient } from '../postgres/prisma-client.js';
import {
  countQuarantineByReason,
  type QuarantineFilter,
  readQuarantineEntries,
  type StoredQuarantineEntry,
} from '../postgres/quarantine-store.js';
import { type Standing, standingOf } from './standing.js';

/** An entry as a list shows it: everything but the document, and where it stands against its row. */
export interface ListedQuarantineEntry extends Omit<StoredQuarantineEntry, 'document'> {
  standing: Standing;
}

export interface QuarantineListing {
  /** Entries the filter selects, all pages together. */
  total: number;
  /** Of those, per reason code. */
  byReason: Record<string, number>;
  /** This page, in key order. */
  entries: ListedQuarantineEntry[];
  /** The key to list after for the next page; null on the last. */
  next: string | null;
}

/** Most entries one page lists. */
export const maxListLimit = 1000;

/** An entry with its standing (`standing.ts`). */
export function withStanding<E extends StoredQuarantineEntry>(entry: E): E & { standing: Standing } {
  return { ...entry, standing: standingOf(entry) };
}

/**
 * One page of the quarantine (`limit` entries after `after`, in key order) of the entries `filter` selects
 * (open ones unless it says), with how many it selects in all and per reason code.
 */
export async function listQuarantine(
  prisma: PrismaClient,
  filter: QuarantineFilter,
  page: { limit: number; after?: string },
): Promise<QuarantineListing> {
  const limit = Math.min(Math.max(1, page.limit), maxListLimit);
  const [found, byReason] = await Promise.all([
    readQuarantineEntries(prisma, filter, { limit: limit + 1, ...(page.after !== undefined ? { after: page.after } : {}) }),
    countQuarantineByReason(prisma, filter),
  ]);
  const entries = found.slice(0, limit).map(withStanding);
  return {
    total: Object.values(byReason).reduce((sum, count) => sum + count, 0),
    byReason,
    entries,
    next: found.length > limit ? (entries.at(-1)?.key ?? null) : null,
  };
}
