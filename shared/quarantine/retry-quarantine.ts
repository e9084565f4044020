import type { AppContext } from '../context/app-context.js';
import { phaseReaderOf } from '../context/phase-reader.js';
import { QuarantineRetryRefusedError, throwIfInterrupted } from '../core/errors.js';
import { readCurrentDocuments } from '../cosmos/current-documents.js';
import { type PointRead, positionedAfter } from '../cosmos/point-reads.js';
import { assertMayMigrate } from '../migration/migration-mode.js';
import { readSettingsOf } from '../migration/read-budget.js';
import {
  closeGoneEntries,
  countQuarantineByReason,
  type QuarantineFilter,
  readQuarantineEntries,
  type StoredQuarantineEntry,
} from '../postgres/quarantine-store.js';
import { applyDocuments } from '../write-path/apply-documents.js';
import { quarantineKey } from '../write-path/quarantine.js';
import { entryPointRead, entryPosition } from './entry-address.js';

/** Which entries to retry: named ones (whatever their status), or those a filter selects (open ones unless it says). */
export type QuarantineSelection = { keys: readonly string[] } | { filter: QuarantineFilter };

/**
 * What became of one entry:
 * - `landed`: its document's current version was written to its table, and the entry left the quarantine;
 * - `still-quarantined`: the current version went to the quarantine again, with the reason that holds now;
 * - `closed`: Cosmos no longer has the document: the entry is closed (kept, recorded);
 * - `unchanged`: the write path found nothing to do (PostgreSQL already holds that version or a newer one), or
 *   the entry changed while it was retried: it stays as it is;
 * - `unaddressable`: no point read can name its document (no usable id): it stays;
 * - `not-found`: no entry has that key.
 */
export type RetryOutcome = 'landed' | 'still-quarantined' | 'closed' | 'unchanged' | 'unaddressable' | 'not-found';

export interface RetriedEntry {
  key: string;
  outcome: RetryOutcome;
  /** The entry's reason code and reason after the retry, while it stays. */
  reasonCode?: string;
  reason?: string;
}

export interface QuarantineRetry {
  /** Entries retried (named keys no entry has included). */
  selected: number;
  counts: Record<RetryOutcome, number>;
  /** The first `maxListed` entries, in key order; the counts are complete. */
  entries: RetriedEntry[];
  requestUnits: number;
  throttled: number;
}

export interface RetryOptions {
  /** Request units per second for the point reads (shared budget); default MIGRATION_MAX_RU_PER_SECOND. */
  maxRequestUnitsPerSecond?: number;
  /** Entries per page: one query, their point reads, one write. Default 100. */
  pageSize?: number;
  /** Entries the result lists (default 1,000). */
  maxListed?: number;
  /** Stops after the page in hand (`InterruptedError`); what was retried stays retried. */
  signal?: AbortSignal;
  /** After each page: entries done so far, of how many selected at the start. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

const noCounts = (): Record<RetryOutcome, number> => ({
  landed: 0,
  'still-quarantined': 0,
  closed: 0,
  unchanged: 0,
  unaddressable: 0,
  'not-found': 0,
});

/**
 * Retries quarantined documents: each selected entry's document is read again from Cosmos as it is NOW (a point
 * read, under the shared read budget) and sent through the write path (`applyDocuments`, source `retry`), placed
 * in the change feed's order no earlier than the version the entry holds. A document fixed at the source lands
 * in its table and its entry leaves the quarantine (as any write of it does); one still bad stays, with the
 * reason that holds now; one gone from Cosmos closes its entry (`closedBy: retry`). Needs MIGRATION_MODE=true,
 * and Cosmos primary: while PostgreSQL is primary, Cosmos holds the mirror's copies of PostgreSQL's own writes.
 */
export async function retryQuarantine(
  ctx: AppContext,
  selection: QuarantineSelection,
  options: RetryOptions = {},
): Promise<QuarantineRetry> {
  assertMayMigrate(ctx.config, false);
  const { phase } = await phaseReaderOf(ctx).current();
  if (phase !== 'cosmos' && phase !== 'cosmos-primary') throw new QuarantineRetryRefusedError();
  const reads = readSettingsOf(ctx, options.maxRequestUnitsPerSecond);
  const named = 'keys' in selection ? [...new Set(selection.keys)] : undefined;
  const filter: QuarantineFilter = 'keys' in selection ? { status: 'all', keys: named } : selection.filter;
  const total = named
    ? named.length
    : Object.values(await countQuarantineByReason(ctx.prisma, filter)).reduce((sum, count) => sum + count, 0);
  const pageSize = options.pageSize ?? 100;
  const maxListed = options.maxListed ?? 1000;
  const retry: QuarantineRetry = { selected: 0, counts: noCounts(), entries: [], requestUnits: 0, throttled: 0 };
  const record = (entry: RetriedEntry) => {
    retry.selected += 1;
    retry.counts[entry.outcome] += 1;
    if (retry.entries.length < maxListed) retry.entries.push(entry);
  };
  const seen = new Set<string>();
  let after: string | undefined;
  for (;;) {
    throwIfInterrupted(options.signal);
    const page = await readQuarantineEntries(ctx.prisma, filter, { limit: pageSize, include: 'address', ...(after ? { after } : {}) });
    const last = page.at(-1);
    if (!last) break;
    after = last.key;
    for (const outcome of await retryPage(ctx, page, reads, retry)) record(outcome);
    for (const entry of page) seen.add(entry.key);
    options.onProgress?.({ done: retry.selected, total });
    if (page.length < pageSize) break;
  }
  for (const key of named ?? []) if (!seen.has(key)) record({ key, outcome: 'not-found' });
  await reads.budget?.settle(options.signal);
  retry.entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return retry;
}

type Located = PointRead & { entry: StoredQuarantineEntry };

/** One page: point reads, one write of what is there, the closing of what is gone, then each entry as it stands. */
async function retryPage(
  ctx: AppContext,
  page: readonly StoredQuarantineEntry[],
  reads: ReturnType<typeof readSettingsOf>,
  retry: QuarantineRetry,
): Promise<RetriedEntry[]> {
  const outcomes: RetriedEntry[] = [];
  const located: Located[] = [];
  for (const entry of page) {
    const read = entryPointRead(entry.document);
    if (read) located.push({ ...read, entry });
    else outcomes.push({ key: entry.key, outcome: 'unaddressable', reasonCode: entry.reasonCode, reason: entry.reason });
  }
  const current = await readCurrentDocuments(ctx.cosmos, located, reads);
  retry.requestUnits += current.requestCharge;
  retry.throttled += current.throttled;
  const present = current.found.flatMap(({ entry, document }) =>
    document ? [{ entry: entry.entry, document: positionedAfter(document, entryPosition(entry.entry.document)) }] : [],
  );
  const gone = current.found.flatMap(({ entry, document }) => (document ? [] : [entry.entry]));

  const applied =
    present.length > 0
      ? await applyDocuments(
          ctx.prisma,
          present.map(({ document }) => document),
          { source: 'retry' },
        )
      : undefined;
  const requarantined = new Set([...(applied?.quarantinedKeys ?? []), ...(applied?.failedKeys ?? [])]);
  const closed = new Set(await closeGoneEntries(ctx.prisma, gone, 'retry'));

  const keys = present.map(({ entry }) => entry.key);
  const now = new Map(
    keys.length === 0
      ? []
      : (await readQuarantineEntries(ctx.prisma, { status: 'all', keys }, { limit: keys.length })).map((entry) => [entry.key, entry]),
  );
  for (const { entry, document } of present) {
    const stands = now.get(entry.key);
    if (!stands) outcomes.push({ key: entry.key, outcome: 'landed' });
    else {
      const outcome = requarantined.has(quarantineKey(document)) && stands.status === 'open' ? 'still-quarantined' : 'unchanged';
      outcomes.push({ key: entry.key, outcome, reasonCode: stands.reasonCode, reason: stands.reason });
    }
  }
  for (const entry of gone) {
    outcomes.push(
      closed.has(entry.key)
        ? { key: entry.key, outcome: 'closed' }
        : { key: entry.key, outcome: 'unchanged', reasonCode: entry.reasonCode, reason: entry.reason },
    );
  }
  return outcomes;
}
