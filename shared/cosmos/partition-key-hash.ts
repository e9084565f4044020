import { type Container, type PartitionKeyDefinition, PartitionKeyDefinitionVersion, PartitionKeyKind } from '@azure/cosmos';
// A deep import, on purpose, and the only one of the app: @azure/cosmos computes effective partition keys (the
// hash that places a document in a feed range) but does not export the function (its package.json "exports" map
// exposes only the entry point, so a bare `@azure/cosmos/dist/...` specifier is refused). Writing MurmurHash3 and
// Cosmos's binary encoding again could only drift from what the SDK routes by. test/unit/partition-key-hash.test.ts
// checks it against values published by the Azure SDKs' own tests, so an upgrade that moves or changes it fails there.
import { hashPartitionKey } from '../../node_modules/@azure/cosmos/dist/esm/utils/hashing/hash.js';

/**
 * Effective partition keys (EPKs): where Cosmos places a partition key value in the hash space its feed ranges
 * divide ("Partitioning and horizontal scaling in Azure Cosmos DB", learn.microsoft.com/azure/cosmos-db/
 * partitioning-overview). A feed range `[min, max)` holds exactly the documents whose pubkey hashes into it, so
 * these are what select a range's rows in PostgreSQL. The hash depends on the container's partition key
 * definition: version 1 (32-bit MurmurHash3, the default of containers created without a version) or version 2
 * ("large partition keys", 128-bit; the portal's default).
 */

/** Which hash a container's partition key uses. */
export type PartitionKeyScheme = 'v1' | 'v2';

/** The scheme of a partition key definition: a single-path hash key, version 1 or 2; anything else is refused. */
export function schemeOf(definition: PartitionKeyDefinition | undefined): PartitionKeyScheme {
  if (!definition || definition.paths.length !== 1 || (definition.kind ?? PartitionKeyKind.Hash) !== PartitionKeyKind.Hash) {
    throw new Error(
      `the container's partition key is ${JSON.stringify(definition ?? null)}: only a single-path hash key (such as /pubkey) can be read by feed range here`,
    );
  }
  return definition.version === PartitionKeyDefinitionVersion.V2 ? 'v2' : 'v1';
}

/** The container's scheme, from its definition (one read of the container's properties). */
export async function partitionKeySchemeOf(container: Container): Promise<PartitionKeyScheme> {
  const { resource } = await container.read();
  return schemeOf(resource?.partitionKey);
}

const definitions: Record<PartitionKeyScheme, PartitionKeyDefinition> = {
  v1: { paths: ['/pubkey'], kind: PartitionKeyKind.Hash, version: PartitionKeyDefinitionVersion.V1 },
  v2: { paths: ['/pubkey'], kind: PartitionKeyKind.Hash, version: PartitionKeyDefinitionVersion.V2 },
};

/** The EPK of a string partition key value, as uppercase hex (the form feed range bounds are written in). */
export function effectivePartitionKey(scheme: PartitionKeyScheme, value: string): string {
  return hashPartitionKey([value], definitions[scheme]);
}
