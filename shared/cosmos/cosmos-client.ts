import type { Agent } from 'node:https';
import { type Container, CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import type { CosmosSettings } from '../config/env.js';

export interface CosmosConnectOptions {
  /** An agent trusting a specific CA (tests use a throwaway certificate); never disables TLS checks. */
  agent?: Agent;
  /** Off for single-endpoint servers (the local stand-in); Azure accounts keep discovery on. */
  endpointDiscovery?: boolean;
}

/** One Cosmos client per settings: by key when a connection string is configured, otherwise by Entra ID. */
export function createCosmosClient(settings: CosmosSettings, options: CosmosConnectOptions = {}): CosmosClient {
  const connectionPolicy = options.endpointDiscovery === false ? { enableEndpointDiscovery: false } : undefined;
  if (settings.auth.kind === 'connectionString') {
    const { endpoint, key } = parseConnectionString(settings.auth.connectionString);
    return new CosmosClient({ endpoint, key, agent: options.agent, connectionPolicy });
  }
  const aadCredentials = new DefaultAzureCredential(
    settings.auth.clientId ? { managedIdentityClientId: settings.auth.clientId } : undefined,
  );
  return new CosmosClient({ endpoint: settings.auth.endpoint, aadCredentials, agent: options.agent, connectionPolicy });
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
