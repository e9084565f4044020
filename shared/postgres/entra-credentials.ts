import type { TokenCredential } from '@azure/identity';
import type pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { azureCredential } from '../config/azure-credential.js';
import type { DatabaseAuth } from '../config/env.js';
import type { Clock } from '../core/clock.js';
import { entraPassword } from './entra-token.js';

/**
 * How a PostgreSQL connection signs in: with the password DATABASE_URL carries, or with a Microsoft
 * Entra token from `credential` (DATABASE_AUTH=entra, DATABASE_URL names the role and has no password).
 */
export type PostgresCredentials = { kind: 'urlPassword' } | { kind: 'entra'; credential: TokenCredential; clock?: Pick<Clock, 'now'> };

export const urlPassword: PostgresCredentials = { kind: 'urlPassword' };

/** The credentials the configuration asks for: in Azure the app's managed identity, on a workstation the operator's sign-in. */
export function postgresCredentialsFor(auth: DatabaseAuth | undefined): PostgresCredentials {
  return auth?.kind === 'entra' ? { kind: 'entra', credential: azureCredential(auth.clientId) } : urlPassword;
}

/**
 * The `pg` client/pool configuration for `databaseUrl`.
 *
 * With Entra the URL is parsed here (by `pg-connection-string`, the parser `pg` itself uses, so every URL
 * parameter means the same) and `password` is the token function. Passing `connectionString` beside a
 * `password` function would not work: `pg` lets the values parsed from the connection string override the
 * ones given beside it, and a URL without a password parses to an empty one.
 */
export function pgConnectionConfig(databaseUrl: string, credentials: PostgresCredentials): pg.ClientConfig {
  if (credentials.kind === 'urlPassword') return { connectionString: databaseUrl };
  const { password: _none, ...parsed } = parseIntoClientConfig(databaseUrl);
  return { ...parsed, password: entraPassword(credentials.credential, { clock: credentials.clock }) };
}
