import { type Container, type CosmosClient, PartitionKeyDefinitionVersion } from '@azure/cosmos';
import type { CosmosSettings } from '../../shared/config/env.js';
import { startCosmosDouble } from '../cosmos-double/index.js';

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

/** Physical partitions of the local account: enough for the demo to show one chain per feed range. */
const localPartitions = 4;

/**
 * Starts the project's Cosmos double (dev/cosmos-double) in this process on a free port of 127.0.0.1,
 * empty and in memory, with {@link localPartitions} physical partitions and a real change feed. Plain HTTP:
 * it is reachable from this machine only and holds generated data, and a local certificate would protect
 * nothing. Endpoint discovery is off because there is one endpoint.
 */
export async function startLocalCosmosServer(): Promise<LocalCosmosServer> {
  const double = await startCosmosDouble({ protocol: 'http', partitions: localPartitions });
  const { settings, client } = double;
  return {
    endpoint: double.endpoint,
    settings,
    client,
    createDocumentsContainer: async () => {
      const { database } = await client.databases.createIfNotExists({ id: settings.databaseName });
      const { container } = await database.containers.createIfNotExists({
        id: settings.containerName,
        // Hash V2, as the Azure portal creates containers today.
        partitionKey: { paths: ['/pubkey'], version: PartitionKeyDefinitionVersion.V2 },
      });
      return container;
    },
    stop: () => double.stop(),
  };
}
