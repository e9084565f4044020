import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

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
 *
 * @azure/identity (with MSAL) is loaded on the first token request, not when the app loads: a function
 * instance that never needs a token does not pay for parsing it (~1 s of import on a small machine), and
 * neither does a CLI command run with keys and passwords.
 */
export interface AppCredential extends TokenCredential {
  /** Which credential the settings call for. */
  readonly kind: 'ManagedIdentityCredential' | 'DefaultAzureCredential';
}

const credentials = new Map<string, AppCredential>();

/** The credential for `clientId` (a user-assigned managed identity), or the developer's own sign-in when unset. */
export function azureCredential(clientId: string | undefined): AppCredential {
  const key = clientId ?? '';
  let credential = credentials.get(key);
  if (!credential) {
    credential = lazyCredential(clientId);
    credentials.set(key, credential);
  }
  return credential;
}

function lazyCredential(clientId: string | undefined): AppCredential {
  let real: Promise<TokenCredential> | undefined;
  const load = () =>
    (real ??= import('@azure/identity').then(({ DefaultAzureCredential, ManagedIdentityCredential }) =>
      clientId ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential(),
    ));
  return {
    kind: clientId ? 'ManagedIdentityCredential' : 'DefaultAzureCredential',
    getToken: async (scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> =>
      (await load()).getToken(scopes, options),
  };
}
