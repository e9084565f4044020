import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Container, CosmosClient } from '@azure/cosmos';
import { createHttpServer } from '@vercel/cosmosdb-server';
import type { CosmosSettings } from '../../shared/config/env.js';
import { createCosmosClient } from '../../shared/cosmos/cosmos-client.js';

/** The local Cosmos-protocol server this process started, and a client for it. */
export interface LocalCosmosServer {
  /** `http://127.0.0.1:<port>/` */
  endpoint: string;
  /** Settings naming the server and Nostria's database and container, as `loadConfig` would give them. */
  settings: CosmosSettings;
  /** The real @azure/cosmos SDK, built by the app's own `createCosmosClient`. */
  client: CosmosClient;
  /** Creates `NostriaDB`/`Documents` partitioned on `/pubkey`, as the Nostria account has it. */
  createDocumentsContainer(): Promise<Container>;
  stop(): Promise<void>;
}

/**
 * Starts `@vercel/cosmosdb-server` in this process on a free port of 127.0.0.1, empty and in memory.
 * Plain HTTP: the server is reachable from this machine only and holds generated data, and a local
 * certificate would protect nothing. Endpoint discovery is off because the server advertises an
 * https:// endpoint for itself.
 *
 * It is a stand-in, not Cosmos: its reads slow down sharply above ~10k documents in one container.
 */
export async function startLocalCosmosServer(): Promise<LocalCosmosServer> {
  const server = createHttpServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}/`;
  // The stand-in checks no signatures, but the SDK needs a base64 key to sign with.
  const key = randomBytes(64).toString('base64');
  const settings: CosmosSettings = {
    auth: { kind: 'connectionString', connectionString: `AccountEndpoint=${endpoint};AccountKey=${key};` },
    databaseName: 'NostriaDB',
    containerName: 'Documents',
  };
  const client = createCosmosClient(settings, { endpointDiscovery: false });
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    settings,
    client,
    createDocumentsContainer: async () => {
      const { database } = await client.databases.createIfNotExists({ id: settings.databaseName });
      const { container } = await database.containers.createIfNotExists({
        id: settings.containerName,
        partitionKey: { paths: ['/pubkey'] },
      });
      return container;
    },
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        client.dispose();
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
