import type { AppContext } from '../context/app-context.js';
import { ChangeFeedReader } from '../cosmos/change-feed-reader.js';
import { parseRangeKey, rangeLabel } from '../cosmos/feed-ranges.js';
import { loadPositions } from '../migration/change-feed-positions.js';
import { readSettingsOf } from '../migration/read-budget.js';
import { readItem } from '../sync/change-feed-items.js';

/** How far PostgreSQL's change-feed positions stand behind Cosmos in one feed range, read from the feed itself. */
export interface RangeLag {
  range: string;
  /** Changes after the position (counted up to the reading's limit). */
  pending: number;
  /** More than the reading's limit were pending: `pending` is a lower bound. */
  more: boolean;
  /** Seconds from the oldest pending change (`_ts`, or a delete's time) to now; 0 when none is pending. */
  lagSeconds: number;
}

export interface ChangeFeedLag {
  /** False when no full load has completed: there is no position to measure from. */
  positioned: boolean;
  ranges: RangeLag[];
}

/**
 * Reads, without applying anything, the changes after PostgreSQL's saved position in each feed range (the
 * positions `migrate:sync` and `migrate:incremental` move on, and the switch drains from): how many, and how old
 * the oldest. At most `maxPages` pages of `pageSize` per range are read.
 */
export async function measureChangeFeedLag(
  ctx: AppContext,
  options: { pageSize?: number; maxPages?: number; nowMs?: number } = {},
): Promise<ChangeFeedLag> {
  const positions = await loadPositions(ctx.prisma);
  if (positions.length === 0) return { positioned: false, ranges: [] };
  const nowSeconds = (options.nowMs ?? Date.now()) / 1000;
  const read = { ...readSettingsOf(ctx), maxItemCount: options.pageSize ?? 100 };
  const ranges = await Promise.all(
    positions.map(async (position): Promise<RangeLag> => {
      const bounds = parseRangeKey(position.rangeKey);
      if (!bounds) throw new Error(`change-feed position ${position.rangeKey} does not name a feed range`);
      const reader = new ChangeFeedReader(
        ctx.cosmos,
        bounds,
        { from: 'continuation', continuation: position.continuation },
        {
          ...read,
          mode: position.mode,
        },
      );
      let pending = 0;
      let oldest: number | undefined;
      for (let page = 0; page < (options.maxPages ?? 10); page += 1) {
        const { items, caughtUp } = await reader.read();
        pending += items.length;
        for (const item of items) {
          const ts = changeTimeOf(item);
          if (ts !== undefined && (oldest === undefined || ts < oldest)) oldest = ts;
        }
        if (caughtUp) return { range: rangeLabel(position.rangeKey), pending, more: false, lagSeconds: lagOf(oldest, nowSeconds) };
      }
      return { range: rangeLabel(position.rangeKey), pending, more: true, lagSeconds: lagOf(oldest, nowSeconds) };
    }),
  );
  return { positioned: true, ranges };
}

function lagOf(oldest: number | undefined, nowSeconds: number): number {
  return oldest === undefined ? 0 : Math.max(0, Math.round(nowSeconds - oldest));
}

/** A change's time in Cosmos (seconds): a document's `_ts`, a delete's commit time. */
function changeTimeOf(item: unknown): number | undefined {
  const change = readItem(item);
  if (change.kind === 'delete') return change.ts;
  if (change.kind === 'unreadable') return undefined;
  const ts = change.document._ts;
  return typeof ts === 'number' ? ts : undefined;
}
