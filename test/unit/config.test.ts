import { afterEach, describe, expect, it, vi } from 'vitest';
import { azureCredential } from '../../shared/config/azure-credential.js';
import {
  databaseAuthOf,
  loadConfig,
  preferredLocationsFrom,
  requireCosmos,
  requirePostgres,
  requireQueue,
} from '../../shared/config/env.js';
import { ConfigError } from '../../shared/core/errors.js';

const password = 'Pa55-w0rd-Zebra-91';
const accountKey = 'C2y6yDjf5R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/** The ConfigError `fn` throws; fails the test if it throws nothing or something else. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** Every way the error could reach a log: message, stack, problems, JSON. */
function everythingShown(error: ConfigError): string {
  return [error.message, error.stack, ...error.problems, JSON.stringify(error)].join('\n');
}

describe('loadConfig defaults', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('starts on Cosmos DB with every flag off and nothing configured', () => {
    expect(loadConfig({})).toStrictEqual({
      databaseUrl: undefined,
      databaseAuth: { kind: 'password' },
      poolSize: 5,
      postgresTimeouts: {
        retryWindowMs: 60_000,
        statementTimeoutMs: 120_000,
        idleInTransactionTimeoutMs: 60_000,
        queryTimeoutMs: 150_000,
        connectTimeoutMs: 15_000,
        keepAliveInitialDelayMs: 10_000,
      },
      deleteRetentionDays: 7,
      usePostgres: false,
      dualDatabaseMode: false,
      migrationMode: false,
      cosmos: undefined,
      queue: undefined,
    });
  });

  it('names the database NostriaDB and the container Documents unless told otherwise', () => {
    const endpoint = 'https://nostria.documents.azure.com:443/';
    expect(loadConfig({ AZURE_COSMOSDB_ENDPOINT: endpoint }).cosmos).toMatchObject({
      databaseName: 'NostriaDB',
      containerName: 'Documents',
    });
    const named = loadConfig({
      AZURE_COSMOSDB_ENDPOINT: endpoint,
      AZURE_COSMOSDB_DATABASE_NAME: 'Staging',
      AZURE_COSMOSDB_CONTAINER_NAME: 'Docs2',
    });
    expect(named.cosmos).toMatchObject({ databaseName: 'Staging', containerName: 'Docs2' });
  });

  it('treats empty and blank values as unset', () => {
    const config = loadConfig({ DATABASE_URL: '', DATABASE_POOL_SIZE: ' ', USE_POSTGRESQL: '', AZURE_COSMOSDB_DATABASE_NAME: '  ' });
    expect(config).toMatchObject({ databaseUrl: undefined, poolSize: 5, usePostgres: false, cosmos: undefined });
  });

  it('reads process.env when given no source', () => {
    vi.stubEnv('USE_POSTGRESQL', 'true');
    vi.stubEnv('DATABASE_POOL_SIZE', '12');
    expect(loadConfig()).toMatchObject({ usePostgres: true, poolSize: 12 });
  });
});

describe('flags', () => {
  it.each(['true', 'TRUE', ' True ', '1', 'yes', 'on'])('reads %j as on', (value) => {
    const config = loadConfig({ USE_POSTGRESQL: value, DUAL_DATABASE_MODE: value, MIGRATION_MODE: value });
    expect(config).toMatchObject({ usePostgres: true, dualDatabaseMode: true, migrationMode: true });
  });

  it.each(['false', 'FALSE', '0', 'no', 'off', ''])('reads %j as off', (value) => {
    const config = loadConfig({ USE_POSTGRESQL: value, DUAL_DATABASE_MODE: value, MIGRATION_MODE: value });
    expect(config).toMatchObject({ usePostgres: false, dualDatabaseMode: false, migrationMode: false });
  });

  it.each(['USE_POSTGRESQL', 'DUAL_DATABASE_MODE', 'MIGRATION_MODE'])('refuses a %s that is neither true nor false, naming it', (name) => {
    const error = configError(() => loadConfig({ [name]: 'maybe' }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^${name}: .*true or false`));
  });
});

describe('DATABASE_POOL_SIZE', () => {
  it('takes a whole number from 1 to 100', () => {
    expect(loadConfig({ DATABASE_POOL_SIZE: '1' }).poolSize).toBe(1);
    expect(loadConfig({ DATABASE_POOL_SIZE: '100' }).poolSize).toBe(100);
  });

  it.each(['0', '101', '2.5', 'ten', '-3'])('refuses %j, saying what it expected', (value) => {
    const error = configError(() => loadConfig({ DATABASE_POOL_SIZE: value }));
    expect(error.problems).toStrictEqual(['DATABASE_POOL_SIZE: expected a whole number from 1 to 100']);
  });
});

describe('secrets in configuration errors', () => {
  it('names DATABASE_URL and the expected form, never the password, for a malformed URL', () => {
    for (const url of [
      `mysql://nostria:${password}@db.example.com/nostria`,
      `postgresql//nostria:${password}@db.example.com/nostria`,
      password,
    ]) {
      const error = configError(() => loadConfig({ DATABASE_URL: url }));
      expect(error.problems).toStrictEqual(['DATABASE_URL: expected a postgresql:// connection string']);
      expect(everythingShown(error)).not.toContain(password);
    }
  });

  it('names AZURE_COSMOSDB_CONNECTION_STRING, never the account key, for a malformed connection string', () => {
    for (const value of [
      `AccountEndpoint=ftp://x.example;AccountKey=${accountKey};`,
      `AccountKey=${accountKey}`,
      `https://x.documents.azure.com/;${accountKey}`,
    ]) {
      const error = configError(() => loadConfig({ AZURE_COSMOSDB_CONNECTION_STRING: value }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^AZURE_COSMOSDB_CONNECTION_STRING: expected "AccountEndpoint=https:/);
      expect(everythingShown(error)).not.toContain(accountKey);
    }
  });

  it('reports every problem at once, still without the secrets', () => {
    const error = configError(() =>
      loadConfig({
        DATABASE_URL: `mongodb://root:${password}@x`,
        USE_POSTGRESQL: 'sure',
        AZURE_COSMOSDB_CONNECTION_STRING: `AccountKey=${accountKey}`,
        AZURE_COSMOSDB_ENDPOINT: 'not a url',
      }),
    );
    expect(error.problems.map((problem) => problem.slice(0, problem.indexOf(':'))).sort()).toStrictEqual([
      'AZURE_COSMOSDB_CONNECTION_STRING',
      'AZURE_COSMOSDB_ENDPOINT',
      'DATABASE_URL',
      'USE_POSTGRESQL',
    ]);
    expect(everythingShown(error)).not.toContain(password);
    expect(everythingShown(error)).not.toContain(accountKey);
  });
});

describe('Cosmos DB connection', () => {
  const connectionString = `AccountEndpoint=https://nostria.documents.azure.com:443/;AccountKey=${accountKey};`;

  it('uses the connection string when there is one, even beside an endpoint', () => {
    const config = loadConfig({
      AZURE_COSMOSDB_CONNECTION_STRING: connectionString,
      AZURE_COSMOSDB_ENDPOINT: 'https://other.documents.azure.com/',
    });
    expect(config.cosmos?.auth).toStrictEqual({ kind: 'connectionString', connectionString });
  });

  it('uses identity with the endpoint alone, passing the managed identity client id through', () => {
    const endpoint = 'https://nostria.documents.azure.com:443/';
    expect(loadConfig({ AZURE_COSMOSDB_ENDPOINT: endpoint }).cosmos?.auth).toStrictEqual({
      kind: 'identity',
      endpoint,
      clientId: undefined,
    });
    const withClient = loadConfig({ AZURE_COSMOSDB_ENDPOINT: endpoint, AZURE_CLIENT_ID: '0b1c2d3e-aaaa-bbbb-cccc-123456789abc' });
    expect(withClient.cosmos?.auth).toStrictEqual({ kind: 'identity', endpoint, clientId: '0b1c2d3e-aaaa-bbbb-cccc-123456789abc' });
  });

  it('refuses an endpoint that is not a URL, naming the variable', () => {
    const error = configError(() => loadConfig({ AZURE_COSMOSDB_ENDPOINT: 'nostria.documents.azure.com' }));
    expect(error.problems).toStrictEqual(['AZURE_COSMOSDB_ENDPOINT: expected an https:// endpoint URL']);
  });

  it('requireCosmos names both ways to configure it, and returns the settings when configured', () => {
    const error = configError(() => requireCosmos(loadConfig({})));
    expect(error.message).toContain('AZURE_COSMOSDB_CONNECTION_STRING');
    expect(error.message).toContain('AZURE_COSMOSDB_ENDPOINT');
    const config = loadConfig({ AZURE_COSMOSDB_CONNECTION_STRING: connectionString });
    expect(requireCosmos(config)).toBe(config.cosmos);
  });
});

describe('PostgreSQL connection', () => {
  it('accepts postgres:// and postgresql:// URLs, trimmed', () => {
    const url = `postgresql://nostria:${password}@db.example.com:5432/nostria?sslmode=require`;
    expect(loadConfig({ DATABASE_URL: `  ${url}\n` }).databaseUrl).toBe(url);
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/nostria' }).databaseUrl).toBe('postgres://localhost/nostria');
  });

  it('requirePostgres names DATABASE_URL when it is missing, and returns it when set', () => {
    const error = configError(() => requirePostgres(loadConfig({ USE_POSTGRESQL: 'true' })));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^DATABASE_URL: required/);
    expect(requirePostgres(loadConfig({ DATABASE_URL: 'postgresql://localhost/nostria' }))).toBe('postgresql://localhost/nostria');
  });
});

describe('PostgreSQL sign-in (DATABASE_AUTH)', () => {
  const entraUrl = 'postgresql://id-nostria@psql.postgres.database.azure.com:6432/nostria?sslmode=verify-full';

  it('uses the password in DATABASE_URL unless told otherwise, as local development does', () => {
    expect(loadConfig({ DATABASE_URL: `postgresql://nostria:${password}@localhost/nostria` }).databaseAuth).toStrictEqual({
      kind: 'password',
    });
    expect(loadConfig({ DATABASE_AUTH: 'password' }).databaseAuth).toStrictEqual({ kind: 'password' });
  });

  it('signs in with an Entra token for the managed identity AZURE_CLIENT_ID names', () => {
    const config = loadConfig({ DATABASE_AUTH: 'Entra', DATABASE_URL: entraUrl, AZURE_CLIENT_ID: 'client-1' });
    expect(config.databaseAuth).toStrictEqual({ kind: 'entra', clientId: 'client-1' });
    expect(loadConfig({ DATABASE_AUTH: 'entra', DATABASE_URL: entraUrl }).databaseAuth).toStrictEqual({
      kind: 'entra',
      clientId: undefined,
    });
  });

  it('refuses a password in DATABASE_URL with DATABASE_AUTH=entra, without showing it', () => {
    const error = configError(() =>
      loadConfig({ DATABASE_AUTH: 'entra', DATABASE_URL: `postgresql://id-nostria:${password}@psql.example/nostria` }),
    );
    expect(error.problems).toStrictEqual([
      'DATABASE_URL: must carry no password with DATABASE_AUTH=entra (the Entra token is the password)',
    ]);
    expect(everythingShown(error)).not.toContain(password);
  });

  it('refuses DATABASE_AUTH=entra with a URL that names no role', () => {
    const error = configError(() => loadConfig({ DATABASE_AUTH: 'entra', DATABASE_URL: 'postgresql://psql.example/nostria' }));
    expect(error.problems).toStrictEqual(['DATABASE_URL: must name the Entra database role as its user with DATABASE_AUTH=entra']);
  });

  it('refuses any other DATABASE_AUTH, naming it', () => {
    const error = configError(() => loadConfig({ DATABASE_AUTH: 'token' }));
    expect(error.problems).toStrictEqual(['DATABASE_AUTH: expected password or entra']);
  });

  it('treats a configuration built without databaseAuth (tests, the demo) as password sign-in', () => {
    expect(databaseAuthOf({ poolSize: 1, usePostgres: false, dualDatabaseMode: false, migrationMode: false })).toStrictEqual({
      kind: 'password',
    });
  });
});

describe('Cosmos DB preferred regions (COSMOSDB_PREFERRED_LOCATIONS)', () => {
  const endpoint = 'https://nostria.documents.azure.com:443/';

  it('reads a comma-separated list, trimmed, in order', () => {
    const config = loadConfig({ AZURE_COSMOSDB_ENDPOINT: endpoint, COSMOSDB_PREFERRED_LOCATIONS: ' Sweden Central , West Europe,' });
    expect(config.cosmos?.preferredLocations).toStrictEqual(['Sweden Central', 'West Europe']);
    expect(preferredLocationsFrom({ COSMOSDB_PREFERRED_LOCATIONS: 'North Europe' })).toStrictEqual(['North Europe']);
  });

  it('leaves them out when unset or blank, so the SDK and the trigger use the account default', () => {
    expect(loadConfig({ AZURE_COSMOSDB_ENDPOINT: endpoint }).cosmos).not.toHaveProperty('preferredLocations');
    expect(loadConfig({ AZURE_COSMOSDB_ENDPOINT: endpoint, COSMOSDB_PREFERRED_LOCATIONS: ' , ' }).cosmos).not.toHaveProperty(
      'preferredLocations',
    );
    expect(preferredLocationsFrom({})).toBeUndefined();
  });
});

describe('migration queue', () => {
  it('uses the host storage connection string locally, with the default queue name', () => {
    const connection = 'UseDevelopmentStorage=true';
    expect(loadConfig({ AzureWebJobsStorage: connection }).queue).toStrictEqual({
      name: 'nostria-migration',
      auth: { kind: 'connectionString', connectionString: connection },
    });
  });

  it('uses identity with the storage account name, or an explicit queue service URI', () => {
    expect(
      loadConfig({ AzureWebJobsStorage__accountName: 'nostriasa', AzureWebJobsStorage__clientId: 'client-1' }).queue?.auth,
    ).toStrictEqual({
      kind: 'identity',
      serviceUri: 'https://nostriasa.queue.core.windows.net',
      clientId: 'client-1',
    });
    const uri = 'https://nostriasa.queue.core.windows.net/';
    expect(
      loadConfig({ AzureWebJobsStorage__accountName: 'ignored', AzureWebJobsStorage__queueServiceUri: uri }).queue?.auth,
    ).toMatchObject({ kind: 'identity', serviceUri: uri });
  });

  it.each(['Bad_Name', 'ab', 'double--hyphen', '-leading'])('refuses the queue name %j, naming MIGRATION_QUEUE_NAME', (name) => {
    const error = configError(() => loadConfig({ MIGRATION_QUEUE_NAME: name }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^MIGRATION_QUEUE_NAME: expected a storage queue name/);
  });

  it('requireQueue names the variables to set', () => {
    const error = configError(() => requireQueue(loadConfig({})));
    expect(error.message).toContain('AzureWebJobsStorage');
    expect(error.message).toContain('AzureWebJobsStorage__accountName');
  });
});

describe("the Entra credential of the app's clients", () => {
  it('asks the managed identity a client id names directly, one credential per identity for every client', () => {
    const credential = azureCredential('0b1c2d3e-aaaa-bbbb-cccc-123456789abc');
    expect(credential.kind).toBe('ManagedIdentityCredential');
    expect(azureCredential('0b1c2d3e-aaaa-bbbb-cccc-123456789abc')).toBe(credential);
  });

  it("uses DefaultAzureCredential (an operator's az login) only where no client id is set", () => {
    expect(azureCredential(undefined).kind).toBe('DefaultAzureCredential');
  });
});
