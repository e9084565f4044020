import type { Container } from '@azure/cosmos';
import { type DocumentType, documentTypeNames, typeValuesOf } from '../domain/document-types.js';

/**
 * Cosmos lookups for verification, straight on the SDK with parameterised queries (whole types are
 * streamed with the migration's own reader, `readDocumentPages`). Queries scoped to a user also filter
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

/** Which of `ids` exist in Cosmos as documents of this type, in any partition. */
export async function existingIds(container: Container, type: DocumentType, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { resources } = await container.items
    .query<string>({
      query: 'SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(@types, c.type) AND ARRAY_CONTAINS(@ids, c.id)',
      parameters: [
        { name: '@types', value: [...typeValuesOf(type)] },
        { name: '@ids', value: [...ids] },
      ],
    })
    .fetchAll();
  return new Set(resources);
}
