import type { AppContext } from '../context/app-context.js';
import { throwIfInterrupted } from '../core/errors.js';
import { readCurrentDocuments } from '../cosmos/current-documents.js';
import type { PointRead } from '../cosmos/point-reads.js';
import type { ReadSettings } from '../migration/read-budget.js';
import { closeGoneEntries, readQuarantineEntries, type StoredQuarantineEntry } from '../postgres/quarantine-store.js';
import { entryPointRead } from './entry-address.js';

/** What a sweep found and did. */
export interface QuarantineSweep {
  /** Open entries whose document was looked for in Cosmos. */
  checked: number;
  /** Of those, documents Cosmos no longer has. */
  gone: number;
  /** Entries closed (0 in a dry run; fewer than `gone` when a newer version arrived meanwhile). */
  closed: number;
  /** Open entries no point read can name (no usable id): not looked for. */
  unaddressable: number;
  requestUnits: number;
  throttled: number;
}

export interface SweepOptions {
  /** Close the entries of documents found gone; without it, count them only. */
  apply: boolean;
  /** What the closed entries record as having seen their documents gone, e.g. `reconcile <passId>`. */
  closedBy: string;
  /** The read budget and priority of the pass that sweeps. */
  reads?: ReadSettings;
  /** Entries per page (one query, then their point reads). Default 100. */
  pageSize?: number;
  signal?: AbortSignal;
}

/**
 * The quarantine's share of a reconcile pass, for LatestVersion mode, whose change feed never shows a delete:
 * every OPEN entry's document is looked for in Cosmos by point read (its own partition key, whatever kind of
 * value it is), and the entry of each one gone is closed, recorded (when, `closedBy`) and kept, unless a newer
 * version of the document was quarantined meanwhile. A page of entries at a time, in key order, under the
 * pass's read budget: memory holds a page of ids.
 */
export async function sweepQuarantine(ctx: Pick<AppContext, 'prisma' | 'cosmos'>, options: SweepOptions): Promise<QuarantineSweep> {
  const sweep: QuarantineSweep = { checked: 0, gone: 0, closed: 0, unaddressable: 0, requestUnits: 0, throttled: 0 };
  const pageSize = options.pageSize ?? 100;
  let after: string | undefined;
  for (;;) {
    throwIfInterrupted(options.signal);
    const page = await readQuarantineEntries(
      ctx.prisma,
      { status: 'open' },
      { limit: pageSize, include: 'address', ...(after ? { after } : {}) },
    );
    const last = page.at(-1);
    if (!last) break;
    after = last.key;
    const reads: Array<PointRead & { entry: StoredQuarantineEntry }> = [];
    for (const entry of page) {
      const read = entryPointRead(entry.document);
      if (read) reads.push({ ...read, entry });
      else sweep.unaddressable += 1;
    }
    const current = await readCurrentDocuments(ctx.cosmos, reads, options.reads ?? {});
    sweep.checked += reads.length;
    sweep.requestUnits += current.requestCharge;
    sweep.throttled += current.throttled;
    const gone = current.found.flatMap(({ entry, document }) => (document ? [] : [entry.entry]));
    sweep.gone += gone.length;
    if (options.apply) sweep.closed += (await closeGoneEntries(ctx.prisma, gone, options.closedBy)).length;
    if (page.length < pageSize) break;
  }
  return sweep;
}
