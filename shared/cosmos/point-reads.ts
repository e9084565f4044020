import type { Container } from '@azure/cosmos';
import { isSystemProperty } from '../domain/mapping.js';
import type { PartitionKeyValue } from '../domain/partition-key.js';
import { isStorableText } from '../domain/storable-json.js';

/** Point reads in flight at once: enough to hide latency, few enough not to burst the container's RU budget. */
const readConcurrency = 8;

/** A document to read by id and partition key. */
export interface PointRead {
  id: string;
  partitionKey: PartitionKeyValue;
}

/**
 * Reads documents' CURRENT state in Cosmos: each entry with its document as Cosmos has it now (system
 * properties included), or without one when it is gone. Throws on anything but an answer. The sync reads
 * through it; so can a test, with a model of Cosmos behind it.
 */
export type PointReader = <T extends PointRead>(entries: readonly T[]) => Promise<Array<{ entry: T; document?: Record<string, unknown> }>>;

/** The {@link PointReader} of a container: point reads (a 404 is an answer, not an error). */
export function cosmosPointReader(container: Container): PointReader {
  return async (entries) => {
    const results: Array<{ entry: (typeof entries)[number]; document?: Record<string, unknown> }> = [];
    for (let start = 0; start < entries.length; start += readConcurrency) {
      const slice = entries.slice(start, start + readConcurrency);
      results.push(
        ...(await Promise.all(
          slice.map(async (entry) => {
            // `{}` is the SDK's "none" partition key: an item stored without a value at /pubkey.
            const partitionKey = isNone(entry.partitionKey) ? {} : entry.partitionKey;
            const { resource } = await container.item(entry.id, partitionKey).read<Record<string, unknown>>();
            return { entry, document: resource ?? undefined };
          }),
        )),
      );
    }
    return results;
  };
}

function isNone(value: PartitionKeyValue): value is { none: true } {
  return value !== null && typeof value === 'object';
}

/**
 * A document read by a point read, placed in the change feed's order when something is known of it: a read
 * made after the change feed showed the document at position `after` (or after a delete at `after`) returns
 * that version or a later one, so its position is at least `after`. Without a position, a version read this
 * way could never replace a same-second version that came through the feed, and a deferred change would be
 * lost (the feed does not deliver it again). A document that carries its own position keeps it.
 */
export function positionedAfter(document: Record<string, unknown>, after: number | undefined): Record<string, unknown> {
  if (after === undefined || isSystemProperty('_lsn', document._lsn)) return document;
  return { ...document, _lsn: after };
}

/**
 * Whether a point read can name this id: the SDK puts it in the request path, which cannot carry a lone
 * surrogate (`encodeURIComponent` throws) or U+0000, and Cosmos forbids `/`, `\\`, `?` and `#` in ids.
 */
export function isAddressableId(id: string): boolean {
  return id.length > 0 && isStorableText(id) && !/[/\\?#]/.test(id);
}

/**
 * The point read that finds `document` in its container: its id, and its value at the partition key path
 * `/pubkey` (a JSON scalar as it is; none when it has no scalar there). Undefined when no point read can name
 * it (no string id, or one a request path cannot carry).
 */
export function pointReadOf(document: unknown): PointRead | undefined {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return undefined;
  const { id, pubkey } = document as Record<string, unknown>;
  if (typeof id !== 'string' || !isAddressableId(id)) return undefined;
  const scalar = pubkey === null || ['string', 'number', 'boolean'].includes(typeof pubkey);
  return { id, partitionKey: scalar ? (pubkey as PartitionKeyValue) : { none: true } };
}
