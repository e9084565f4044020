import type { Container, FeedRange } from '@azure/cosmos';

/**
 * Feed ranges: the contiguous effective-partition-key (EPK) intervals `[min, max)` of a container's
 * physical partitions, as `container.getFeedRanges()` lists them ("Change feed pull model",
 * learn.microsoft.com/azure/cosmos-db/nosql/change-feed-pull-model). A full load reads each on its own,
 * so more physical partitions means more parallel readers. A range is named by a key that a queue
 * message, a checkpoint and a change-feed position can carry: `"<min>-<max>"` (EPKs are hex digits, the
 * first range's minimum is `""`, the last range's maximum `"FF"`).
 */

/** A feed range's bounds: `min` inclusive, `max` exclusive. */
export interface FeedRangeBounds {
  min: string;
  max: string;
}

const keyPattern = /^([0-9A-F]*)-([0-9A-F]+)$/;

/** The key of a range: `"<min>-<max>"`. */
export function rangeKey(bounds: FeedRangeBounds): string {
  return `${bounds.min}-${bounds.max}`;
}

/** Whether `part` names a feed range (a run's part may also be a document type or `all`). */
export function isRangeKey(part: string): boolean {
  return parseRangeKey(part) !== undefined;
}

/** The bounds a key names, or undefined if it is not a range key. */
export function parseRangeKey(key: string): FeedRangeBounds | undefined {
  const match = keyPattern.exec(key);
  if (!match || (match[1] as string) >= (match[2] as string)) return undefined;
  return { min: match[1] as string, max: match[2] as string };
}

/** A short name for people: the first four hex digits of each bound (`0000-4000`, `C000-FFFF`). */
export function rangeLabel(key: string): string {
  const bounds = parseRangeKey(key);
  if (!bounds) return key;
  const short = (epk: string, fill: string) => (epk === '' ? '0000' : epk.slice(0, 4).padEnd(4, fill));
  return `${short(bounds.min, '0')}-${short(bounds.max, 'F')}`;
}

/** The container's feed ranges now, ordered by EPK. */
export async function listFeedRanges(container: Container): Promise<FeedRangeBounds[]> {
  const ranges = await container.getFeedRanges();
  rememberFeedRangeClass(ranges[0]);
  return ranges.map((range) => ({ min: range.minInclusive, max: range.maxExclusive })).sort((a, b) => compare(a.min, b.min));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type FeedRangeClass = new (minInclusive: string, maxExclusive: string) => FeedRange;

let feedRangeClass: FeedRangeClass | undefined;

function rememberFeedRangeClass(range: FeedRange | undefined): void {
  if (range && !feedRangeClass) feedRangeClass = range.constructor as FeedRangeClass;
}

/**
 * The SDK's `FeedRange` for saved bounds, to start a change feed from (`ChangeFeedStartFrom.Beginning(range)`).
 * The SDK accepts only instances of its internal class `FeedRangeInternal` there (it checks `instanceof`),
 * which @azure/cosmos 4.x does not export; every range `getFeedRanges()` returns is one, so its class is
 * taken from there. That way a range that has split since its bounds were saved is still named exactly,
 * bounds and all, and the SDK reads the live ranges that overlap it (the split's children) itself.
 */
export async function feedRangeOf(container: Container, bounds: FeedRangeBounds): Promise<FeedRange> {
  if (!feedRangeClass) rememberFeedRangeClass((await container.getFeedRanges())[0]);
  if (!feedRangeClass) throw new Error('Cosmos listed no feed range for the container');
  return Object.freeze(new feedRangeClass(bounds.min, bounds.max));
}
