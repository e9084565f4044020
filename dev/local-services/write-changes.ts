import type { Container, ItemDefinition } from '@azure/cosmos';
import { throwIfInterrupted } from '../../shared/core/errors.js';
import type { LiveChange } from '../sample-data/live-changes.js';

/** How many changes of each kind were written. */
export interface WrittenChanges {
  created: number;
  replaced: number;
  upserted: number;
  deleted: number;
}

/**
 * Writes changes to Cosmos one at a time through the SDK, as the service makes them: each is a Cosmos
 * operation of its own, so each becomes one change in the all-versions-and-deletes feed. A replace reads
 * the document first and replaces it only if it is still that version (If-Match). Any refusal throws:
 * these changes are planned against documents known to be there.
 */
export async function writeChanges(container: Container, changes: readonly LiveChange[], signal?: AbortSignal): Promise<WrittenChanges> {
  const written: WrittenChanges = { created: 0, replaced: 0, upserted: 0, deleted: 0 };
  for (const change of changes) {
    throwIfInterrupted(signal);
    switch (change.kind) {
      case 'create':
        await container.items.create(change.document);
        written.created += 1;
        break;
      case 'replace': {
        const item = container.item(change.id, change.pubkey);
        const { resource, etag } = await item.read<ItemDefinition>();
        if (!resource) throw new Error(`cannot replace ${change.id}: it is not in Cosmos`);
        await item.replace({ ...resource, ...change.set }, { accessCondition: { type: 'IfMatch', condition: etag } });
        written.replaced += 1;
        break;
      }
      case 'upsert':
        await container.items.upsert(change.document);
        written.upserted += 1;
        break;
      case 'delete':
        await container.item(change.id, change.pubkey).delete();
        written.deleted += 1;
        break;
    }
  }
  return written;
}
