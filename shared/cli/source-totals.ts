import type { Container, SqlQuerySpec } from '@azure/cosmos';

/**
 * How many documents a run will read, for the progress bar's total. One COUNT query, answered from
 * Cosmos's index; a container being written meanwhile can end a little above or below it.
 */

export function countAllDocuments(container: Container): Promise<number> {
  return count(container, { query: 'SELECT VALUE COUNT(1) FROM c' });
}

export function countUserDocuments(container: Container, pubkey: string): Promise<number> {
  return count(container, { query: 'SELECT VALUE COUNT(1) FROM c WHERE c.pubkey = @pubkey', parameters: [{ name: '@pubkey', value: pubkey }] });
}

async function count(container: Container, query: SqlQuerySpec): Promise<number> {
  const { resources } = await container.items.query<number>(query).fetchAll();
  // A cross-partition aggregate can arrive as one partial count per partition range.
  return resources.reduce((total, partial) => total + partial, 0);
}
