import type { Agent } from 'node:https';
import { type ConnectionPolicy, type Container, CosmosClient } from '@azure/cosmos';
import { azureCredential } from '../config/azure-credential.js';
import type { CosmosSettings } from '../config/env.js';

export interface CosmosConnectOptions {
  /** An agent trusting a specific CA (tests use a throwaway certificate); never disables TLS checks. */
  agent?: Agent;
  /** Off for single-endpoint servers (the local stand-in); Azure accounts keep discovery on. */
  endpointDiscovery?: boolean;
}

/**
 * One Cosmos client per settings: by key when a connection string is configured, otherwise by Entra ID with
 * the app's managed identity (see azure-credential.ts). Reads go to the preferred regions in order when
 * they are set: without them the SDK reads from the account's first (write) region, wherever the app runs.
 */
export function createCosmosClient(settings: CosmosSettings, options: CosmosConnectOptions = {}): CosmosClient {
  const connectionPolicy = connectionPolicyFor(settings, options);
  if (settings.auth.kind === 'connectionString') {
    const { endpoint, key } = parseConnectionString(settings.auth.connectionString);
    return new CosmosClient({ endpoint, key, agent: options.agent, connectionPolicy });
  }
  const aadCredentials = azureCredential(settings.auth.clientId);
  return new CosmosClient({ endpoint: settings.auth.endpoint, aadCredentials, agent: options.agent, connectionPolicy });
}

function connectionPolicyFor(settings: CosmosSettings, options: CosmosConnectOptions): ConnectionPolicy | undefined {
  const policy: ConnectionPolicy = {
    ...(options.endpointDiscovery === false ? { enableEndpointDiscovery: false } : {}),
    ...(settings.preferredLocations ? { preferredLocations: settings.preferredLocations } : {}),
  };
  return Object.keys(policy).length > 0 ? policy : undefined;
}

export function documentsContainer(client: CosmosClient, settings: CosmosSettings): Container {
  return client.database(settings.databaseName).container(settings.containerName);
}

/** Splits "AccountEndpoint=...;AccountKey=...;" without ever putting the key in an error. */
export function parseConnectionString(connectionString: string): { endpoint: string; key: string } {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const endpoint = parts.get('accountendpoint');
  const key = parts.get('accountkey');
  if (!endpoint || !key) {
    throw new Error('AZURE_COSMOSDB_CONNECTION_STRING: expected "AccountEndpoint=https://...;AccountKey=...;"');
  }
  return { endpoint, key };
}
