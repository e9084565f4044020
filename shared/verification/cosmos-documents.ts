import type { Container } from '@azure/cosmos';
import { documentTypeNames, typeValuesOf, type DocumentType } from '../domain/document-types.js';

/**
 * Cosmos reads for verification, straight on the SDK: parameterised queries, pages of `maxItemCount`
 * followed by continuation token. Queries scoped to a user also filter on `c.pubkey`, which is what
 * the partition-key option means on Cosmos and what a server that ignores that option still honours.
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

/**
 * Every document of a type, one page at a time. The next page is requested while the caller works on
 * the current one, and only those two pages are ever held, so memory does not grow with the container.
 */
export async function* documentPages(container: Container, type: DocumentType, pageSize: number): AsyncGenerator<SourceDocument[]> {
  const iterator = container.items.query<SourceDocument>(
    {
      query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(@types, c.type)',
      parameters: [{ name: '@types', value: [...typeValuesOf(type)] }],
    },
    { maxItemCount: pageSize },
  );
  let next = iterator.hasMoreResults() ? iterator.fetchNext() : undefined;
  try {
    while (next) {
      const { resources } = await next;
      next = iterator.hasMoreResults() ? iterator.fetchNext() : undefined;
      if (resources.length > 0) yield resources;
    }
  } finally {
    // A caller that stops early leaves one prefetched page in flight; its failure is nobody's business.
    next?.catch(() => undefined);
  }
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
