import type { Container } from '@azure/cosmos';
import type { PartitionKeyValue } from '../storage-queue/messages.js';

/** Point reads in flight at once: enough to hide latency, few enough not to burst the container's RU budget. */
const readConcurrency = 8;

/** A document to read by id and partition key. */
export interface PointRead {
  id: string;
  partitionKey: PartitionKeyValue;
}

/**
 * Each document's CURRENT state in Cosmos, by point read (its system properties included), or no document
 * when it is gone (a 404 is an answer, not an error). Any other failure throws.
 */
export async function readCurrent<T extends PointRead>(
  container: Container,
  entries: readonly T[],
): Promise<Array<{ entry: T; document?: Record<string, unknown> }>> {
  const results: Array<{ entry: T; document?: Record<string, unknown> }> = [];
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
}

function isNone(value: PartitionKeyValue): value is { none: true } {
  return value !== null && typeof value === 'object';
}
