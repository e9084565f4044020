import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';

/**
 * The one Microsoft Entra credential per identity that Cosmos DB, the storage queues and PostgreSQL
 * share in this process (one token cache each, not one per client).
 *
 * In Azure the app names its user-assigned managed identity (`AZURE_CLIENT_ID`), so it asks that identity
 * directly with ManagedIdentityCredential. DefaultAzureCredential would first probe the environment,
 * workload identity and other credential kinds on every cold start, each a failed attempt before the one
 * that works (Azure SDK guidance: use a specific credential in production, DefaultAzureCredential for
 * development). Where no client id is set (an operator's workstation) DefaultAzureCredential finds the
 * `az login` / `azd auth login` session.
 */
const credentials = new Map<string, TokenCredential>();

/** The credential for `clientId` (a user-assigned managed identity), or the developer's own sign-in when unset. */
export function azureCredential(clientId: string | undefined): TokenCredential {
  const key = clientId ?? '';
  let credential = credentials.get(key);
  if (!credential) {
    credential = clientId ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential();
    credentials.set(key, credential);
  }
  return credential;
}
