import type { Container } from '@azure/cosmos';
import { documentTypeNames, typeValuesOf } from '../domain/document-types.js';

/**
 * Cosmos lookups for verifying one user, straight on the SDK with parameterised queries (the whole container is
 * read feed range by feed range, `migration/range-pass.ts`). Queries scoped to a user also filter
 * on `c.pubkey`, which is what the partition-key option means on Cosmos and what a server that ignores
 * that option still honours.
 */

type SourceDocument = Record<string, unknown>;

const allTypeValues = documentTypeNames.flatMap((type) => [...typeValuesOf(type)]);

/** Every document of the seven types in one user's partition. */
export async function readUserDocuments(container: Container, pubkey: string): Promise<SourceDocument[]> {
  const { resources } = await container.items
    .query<SourceDocument>(
      {
        query: 'SELECT * FROM c WHERE c.pubkey = @pubkey AND ARRAY_CONTAINS(@types, c.type)',
        parameters: [
          { name: '@pubkey', value: pubkey },
          { name: '@types', value: allTypeValues },
        ],
      },
      { partitionKey: pubkey },
    )
    .fetchAll();
  return resources;
}

/** One user's documents of no known type (the `type` missing or none of the seven's): the quarantine should hold each. */
export async function readUserOtherDocuments(container: Container, pubkey: string): Promise<SourceDocument[]> {
  const { resources } = await container.items
    .query<SourceDocument>(
      {
        query: 'SELECT * FROM c WHERE c.pubkey = @pubkey AND (NOT IS_DEFINED(c.type) OR NOT ARRAY_CONTAINS(@types, c.type))',
        parameters: [
          { name: '@pubkey', value: pubkey },
          { name: '@types', value: allTypeValues },
        ],
      },
      { partitionKey: pubkey },
    )
    .fetchAll();
  return resources;
}
