import type { CosmosSettings } from '../config/env.js';
import { DatabaseUnreachableError } from '../core/errors.js';
import { parseConnectionString } from './cosmos-client.js';

/**
 * Cosmos DB failures that mean "the account could not be reached", as the SDK reports them: a
 * `RestError` from @azure/core-rest-pipeline whose `code` is the socket's or TLS's error code
 * (`connect ECONNREFUSED 127.0.0.1:2` has `code: 'ECONNREFUSED'`), with no HTTP status, since no answer came.
 * Recognised here, next to the client, so the CLI, the HTTP functions and the queue all name the
 * database and its endpoint instead of repeating a socket error.
 */

/** Socket errors: nothing answered at that address, or the name does not resolve. */
const unreachableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * TLS failures: something answered but the connection could not be secured. EPROTO is what a plain-HTTP
 * server (a local stand-in) gives an HTTPS request, which is what endpoint discovery sends when the
 * account advertises https:// for itself.
 */
const tlsCodes = new Set([
  'EPROTO',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface CosmosErrorLike {
  code?: unknown;
  statusCode?: unknown;
  cause?: unknown;
}

/**
 * The socket or TLS error code of a failure of the SDK (a `RestError`) that got no HTTP answer, looking
 * through `cause`; undefined otherwise. Node's own socket errors are not taken: PostgreSQL's driver
 * throws those too.
 */
function connectionCodeOf(error: unknown): string | undefined {
  if ((error as { name?: unknown } | null)?.name !== 'RestError') return undefined;
  for (let current = error as CosmosErrorLike | null | undefined, depth = 0; current && depth < 5; depth += 1) {
    if (typeof current.statusCode === 'number' && current.statusCode > 0) return undefined;
    if (typeof current.code === 'string' && (unreachableCodes.has(current.code) || tlsCodes.has(current.code))) return current.code;
    current = current.cause as CosmosErrorLike | null | undefined;
  }
  return undefined;
}

/** Whether `error` means Cosmos DB could not be reached at all (as opposed to an answer it gave). */
export function isCosmosUnreachable(error: unknown): boolean {
  return connectionCodeOf(error) !== undefined;
}

/**
 * `error` as a {@link DatabaseUnreachableError} naming Cosmos DB and `endpoint` (the account's URL, no
 * key) when it means the account could not be reached; undefined for any other error.
 */
export function cosmosUnreachableError(error: unknown, endpoint: string): DatabaseUnreachableError | undefined {
  const code = connectionCodeOf(error);
  if (!code) return undefined;
  return new DatabaseUnreachableError('Cosmos DB', endpoint, reasonOf(code), { cause: error });
}

function reasonOf(code: string): string {
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens there; is the account or emulator running?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve (check the endpoint)';
  if (code === 'EPROTO') {
    return (
      'the TLS handshake failed (EPROTO). A plain-HTTP local server needs AZURE_COSMOSDB_ENDPOINT_DISCOVERY=false, ' +
      'so the client stays on the http:// endpoint it was given'
    );
  }
  if (tlsCodes.has(code)) return `its TLS certificate is not trusted (${code}); for a local emulator, set NODE_EXTRA_CA_CERTS to its CA`;
  return `the connection failed (${code})`;
}

/** The account's endpoint as configured (never the key), for messages. */
export function cosmosEndpointOf(settings: CosmosSettings): string {
  if (settings.auth.kind === 'identity') return settings.auth.endpoint;
  try {
    return parseConnectionString(settings.auth.connectionString).endpoint;
  } catch {
    return '(unparseable AZURE_COSMOSDB_CONNECTION_STRING)';
  }
}
