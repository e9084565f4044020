import type { AccessToken, TokenCredential } from '@azure/identity';
import type { Clock } from '../core/clock.js';

/**
 * Microsoft Entra access tokens as PostgreSQL passwords. Azure Database for PostgreSQL flexible server
 * accepts a token for this audience in the password field (Microsoft Learn: "Use Microsoft Entra ID
 * authentication", "Connect with managed identity"). A token is checked only when a connection signs in,
 * so an open connection outlives its token; what must stay fresh is the token each NEW connection sends.
 */
export const postgresEntraScope = 'https://ossrdbms-aad.database.windows.net/.default';

/** Fetch a new token this long before the current one expires (tokens live 5 to 60+ minutes). */
const defaultRefreshMarginMs = 5 * 60_000;

export interface EntraPasswordOptions {
  /** Time source; tests pass a pinned one. */
  clock?: Pick<Clock, 'now'>;
  /** How long before expiry to fetch a new token; at most half the token's lifetime is used. */
  refreshMarginMs?: number;
}

interface CachedToken {
  token: string;
  refreshAt: number;
}

/**
 * A `password` function for `pg` (it accepts an async function, called for each new connection) that
 * returns a token for {@link postgresEntraScope}: the cached one while it is fresh, a new one from
 * `credential` once it is within the refresh margin of its expiry. Concurrent connections share one
 * request for a new token.
 */
export function entraPassword(credential: TokenCredential, options: EntraPasswordOptions = {}): () => Promise<string> {
  const clock = options.clock ?? { now: () => Date.now() };
  const margin = options.refreshMarginMs ?? defaultRefreshMarginMs;
  let cached: CachedToken | undefined;
  let pending: Promise<CachedToken> | undefined;

  const fetchToken = async (): Promise<CachedToken> => {
    const requestedAt = clock.now();
    let token: AccessToken | null;
    try {
      token = await credential.getToken(postgresEntraScope);
    } catch (error) {
      throw new Error(`Could not get a Microsoft Entra token for PostgreSQL (DATABASE_AUTH=entra): ${messageOf(error)}`, { cause: error });
    }
    if (!token) throw new Error('Could not get a Microsoft Entra token for PostgreSQL (DATABASE_AUTH=entra): the credential returned none');
    const lifetime = token.expiresOnTimestamp - requestedAt;
    return { token: token.token, refreshAt: token.expiresOnTimestamp - Math.min(margin, lifetime / 2) };
  };

  return async () => {
    if (cached && clock.now() < cached.refreshAt) return cached.token;
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    cached = await pending;
    return cached.token;
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
