import { randomBytes } from 'node:crypto';
import { type Container, type CosmosClient, PartitionKeyDefinitionVersion } from '@azure/cosmos';
import { type CosmosDouble, type CosmosDoubleOptions, startCosmosDouble } from '../../dev/cosmos-double/index.js';

/** The project's Cosmos double over HTTPS, as the tests use it. */
export type CosmosTestServer = CosmosDouble & { agent: NonNullable<CosmosDouble['agent']> };

/**
 * Starts the project's Cosmos double (dev/cosmos-double: several physical partitions, a real change feed,
 * splits and throttling on demand, driven by the real @azure/cosmos SDK) over HTTPS on a free port, with a
 * certificate generated now and trusted only by the returned agent. TLS checks stay on for the rest of the
 * process. Start one per test file in `beforeAll` and `stop()` it in `afterAll`; it starts empty, so use
 * {@link createTestContainer} for isolated containers within the file.
 */
export async function startCosmosServer(options: Omit<CosmosDoubleOptions, 'protocol'> = {}): Promise<CosmosTestServer> {
  // `Date.now` looked up at each write, not captured: a test that pins the clock (vi.setSystemTime) gets `_ts`
  // from the pinned clock, as documents written by the app would. Such a test must not move it backwards and
  // then start a change feed from a point in time (the double finds that point by binary search).
  const double = await startCosmosDouble({ now: () => Date.now(), ...options, protocol: 'https' });
  const { agent } = double;
  if (!agent) throw new Error('the Cosmos double over HTTPS comes with an agent that trusts its certificate');
  return { ...double, agent };
}

/**
 * A new database and container with unique random names (unless given), partitioned on `/pubkey`
 * like Nostria's Documents container.
 */
export async function createTestContainer(
  client: CosmosClient,
  opts: { databaseName?: string; containerName?: string } = {},
): Promise<Container> {
  const suffix = randomBytes(4).toString('hex');
  const { database } = await client.databases.createIfNotExists({ id: opts.databaseName ?? `test-db-${suffix}` });
  const { container } = await database.containers.createIfNotExists({
    id: opts.containerName ?? `test-container-${suffix}`,
    // Hash V2, as the Azure portal creates containers today.
    partitionKey: { paths: ['/pubkey'], version: PartitionKeyDefinitionVersion.V2 },
  });
  return container;
}

/** Every document in the container as Cosmos stores it, system properties included (small test containers only). */
export async function readAllDocuments<T = Record<string, unknown>>(container: Container): Promise<T[]> {
  const { resources } = await container.items.query<T>('SELECT * FROM c').fetchAll();
  return resources;
}
