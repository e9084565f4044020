import { describe, expect, it } from 'vitest';
import { withoutHosts } from '../../shared/repositories/health-check.js';

/** What the drivers say when a database cannot be reached, as /api/health would otherwise repeat it. */
describe('health answers name no host', () => {
  it.each([
    ["Can't reach database server at `psql-abc123.postgres.database.azure.com:6432`", "Can't reach database server at `<host>`"],
    ['getaddrinfo ENOTFOUND nostria-prod.documents.azure.com', 'getaddrinfo ENOTFOUND <host>'],
    ['connect ECONNREFUSED 10.40.1.4:5432; connect ECONNREFUSED ::1:5432', 'connect ECONNREFUSED <host>; connect ECONNREFUSED <host>'],
    ['Request to https://nostria-prod-westeurope.documents.azure.com:443/dbs/NostriaDB failed', 'Request to <host> failed'],
    ['connect ECONNREFUSED [::1]:5432 (localhost:5432)', 'connect ECONNREFUSED <host> (<host>)'],
  ])('%s', (message, answer) => {
    expect(withoutHosts(message)).toBe(answer);
  });

  it('keeps what says what failed', () => {
    for (const message of [
      'no answer within 300 ms',
      'not configured: AZURE_COSMOSDB_CONNECTION_STRING, AZURE_COSMOSDB_ENDPOINT',
      'password authentication failed for user "id-abc123"',
    ]) {
      expect(withoutHosts(message)).toBe(message);
    }
  });
});
