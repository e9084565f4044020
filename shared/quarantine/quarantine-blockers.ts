import type { PrismaClient } from '../postgres/prisma-client.js';
import { readQuarantineEntries } from '../postgres/quarantine-store.js';
import { isDifference, type Standing, standingOf } from './standing.js';

/** The open quarantine entries that keep PostgreSQL from serving what Cosmos holds. */
export interface QuarantineBlockers {
  /** Open entries newer than their document's row, or waiting for a row (see `standing.ts`). */
  count: number;
  /** Of those, per reason code. */
  byReason: Record<string, number>;
  /** Of those, per standing (`newer-than-row`, `waiting-for-row`). */
  byStanding: Partial<Record<Standing, number>>;
  /** The first few of them (key order), to look at with `migrate:quarantine show <key>`. */
  examples: string[];
}

/** Entries read per query while counting. */
const pageSize = 1000;
/** Keys named as examples. */
const exampleCount = 5;

/**
 * The open quarantine entries that block a switch to PostgreSQL: each is a document version Cosmos holds that
 * PostgreSQL does not serve (newer than the document's row, or a document waiting for a row). Documents no table
 * can hold and versions older than their row do not block. Reads PostgreSQL only (an open entry's document is
 * taken to be in Cosmos: a delete closes it), a page at a time.
 */
export async function quarantineBlockers(prisma: PrismaClient): Promise<QuarantineBlockers> {
  const blockers: QuarantineBlockers = { count: 0, byReason: {}, byStanding: {}, examples: [] };
  let after: string | undefined;
  for (;;) {
    const page = await readQuarantineEntries(prisma, { status: 'open' }, { limit: pageSize, ...(after ? { after } : {}) });
    for (const entry of page) {
      const standing = standingOf(entry);
      if (!isDifference(standing)) continue;
      blockers.count += 1;
      blockers.byReason[entry.reasonCode] = (blockers.byReason[entry.reasonCode] ?? 0) + 1;
      blockers.byStanding[standing] = (blockers.byStanding[standing] ?? 0) + 1;
      if (blockers.examples.length < exampleCount) blockers.examples.push(entry.key);
    }
    after = page.at(-1)?.key;
    if (page.length < pageSize) return blockers;
  }
}
