import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Container, CosmosClient } from '@azure/cosmos';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { createCosmosClient } from '../../shared/cosmos/cosmos-client.js';
import { createThrowawayCertificate } from '../../dev/local-services/throwaway-certificate.js';

export interface CosmosTestServer {
  /** `https://127.0.0.1:<port>/` */
  endpoint: string;
  /** A random key: the stand-in does not check signatures, but the SDK needs valid base64 to sign with. */
  key: string;
  /** `AccountEndpoint=...;AccountKey=...;`, as AZURE_COSMOSDB_CONNECTION_STRING holds it. */
  connectionString: string;
  /** Trusts this server's throwaway certificate and nothing else; pass it to any other client you build. */
  agent: Agent;
  /** The real @azure/cosmos SDK, built by the app's own `createCosmosClient`. */
  client: CosmosClient;
  stop(): Promise<void>;
}

/**
 * Starts `@vercel/cosmosdb-server` (a Cosmos-protocol server, in this process) over HTTPS on a free port,
 * with a certificate generated now and trusted only by the returned agent. TLS checks stay on for the
 * rest of the process. Start one per test file in `beforeAll` and `stop()` it in `afterAll`; the server
 * starts empty, so use {@link createTestContainer} for isolated containers within the file.
 *
 * It is a stand-in, not Cosmos: no OFFSET/LIMIT, GROUP BY, DISTINCT, partition-scoped queries,
 * transactional batch or real change feed; keep tests within what it does faithfully.
 */
export async function startCosmosServer(): Promise<CosmosTestServer> {
  const { cert, key: tlsKey } = await createThrowawayCertificate();
  const server = createHttpsServer({ cert, key: tlsKey });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `https://127.0.0.1:${port}/`;
  const key = randomBytes(64).toString('base64');
  const connectionString = `AccountEndpoint=${endpoint};AccountKey=${key};`;
  const agent = new Agent({ ca: cert, keepAlive: true });
  const client = createCosmosClient(
    { auth: { kind: 'connectionString', connectionString }, databaseName: 'NostriaDB', containerName: 'Documents' },
    { agent, endpointDiscovery: false },
  );
  return {
    endpoint,
    key,
    connectionString,
    agent,
    client,
    stop: async () => {
      client.dispose();
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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
    partitionKey: { paths: ['/pubkey'] },
  });
  return container;
}

/** Every document in the container as Cosmos stores it, system properties included (small test containers only). */
export async function readAllDocuments<T = Record<string, unknown>>(container: Container): Promise<T[]> {
  const { resources } = await container.items.query<T>('SELECT * FROM c').fetchAll();
  return resources;
}
