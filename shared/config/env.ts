import { z } from 'zod';
import { describeIssues } from '../runtime/describe-issues.js';

/**
 * Every setting the app reads, in one place. Functions, the CLI and the tests all go through
 * `loadConfig`, so a missing or malformed value fails at start with the variable's name.
 */

const flag = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return false;
      if (['true', '1', 'yes', 'on'].includes(value)) return true;
      if (['false', '0', 'no', 'off'].includes(value)) return false;
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false` });
      return z.NEVER;
    });

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const positiveInt = (fallback: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < 1 || parsed > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from 1 to ${max}` });
        return z.NEVER;
      }
      return parsed;
    });

const postgresUrl = optionalText.refine(
  (value) => value === undefined || /^postgres(ql)?:\/\//.test(value),
  'expected a postgresql:// connection string',
);

const cosmosConnectionString = optionalText.refine(
  (value) => value === undefined || (/AccountEndpoint=https?:\/\//i.test(value) && /AccountKey=/i.test(value)),
  'expected "AccountEndpoint=https://...;AccountKey=...;"',
);

const httpsUrl = optionalText.refine(
  (value) => value === undefined || /^https?:\/\/[^\s]+$/.test(value),
  'expected an https:// endpoint URL',
);

/** The raw environment schema: names are the variables users set. */
export const envSchema = z.object({
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: positiveInt(5, 100),
  USE_POSTGRESQL: flag('USE_POSTGRESQL'),
  DUAL_DATABASE_MODE: flag('DUAL_DATABASE_MODE'),
  MIGRATION_MODE: flag('MIGRATION_MODE'),
  AZURE_COSMOSDB_CONNECTION_STRING: cosmosConnectionString,
  AZURE_COSMOSDB_ENDPOINT: httpsUrl,
  AZURE_CLIENT_ID: optionalText,
  AZURE_COSMOSDB_DATABASE_NAME: optionalText.transform((value) => value ?? 'NostriaDB'),
  AZURE_COSMOSDB_CONTAINER_NAME: optionalText.transform((value) => value ?? 'Documents'),
  COSMOSDB_CHANGE_FEED_MODE: optionalText
    .transform((value) => value ?? 'LatestVersion')
    .pipe(z.enum(['LatestVersion', 'AllVersionsAndDeletes'], 'expected LatestVersion or AllVersionsAndDeletes')),
  MIGRATION_QUEUE_NAME: optionalText
    .transform((value) => value ?? 'nostria-migration')
    .refine((value) => /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(value), 'expected a storage queue name (3-63 lowercase letters, digits, hyphens)'),
  AzureWebJobsStorage: optionalText,
  AzureWebJobsStorage__accountName: optionalText,
  AzureWebJobsStorage__queueServiceUri: httpsUrl,
  AzureWebJobsStorage__clientId: optionalText,
});

export type Env = z.infer<typeof envSchema>;

export interface CosmosSettings {
  /** How the SDK authenticates: a key from the connection string, or Entra ID via DefaultAzureCredential. */
  auth: { kind: 'connectionString'; connectionString: string } | { kind: 'identity'; endpoint: string; clientId?: string };
  databaseName: string;
  containerName: string;
}

export interface QueueSettings {
  name: string;
  /** The host's storage: a connection string locally (Azurite), the account by identity in Azure. */
  auth: { kind: 'connectionString'; connectionString: string } | { kind: 'identity'; serviceUri: string; clientId?: string };
}

export interface AppConfig {
  databaseUrl?: string;
  poolSize: number;
  usePostgres: boolean;
  dualDatabaseMode: boolean;
  migrationMode: boolean;
  cosmos?: CosmosSettings;
  queue?: QueueSettings;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

type Source = Record<string, string | undefined>;

/**
 * Reads and validates the environment. Messages name the variable and what was expected;
 * they never include the value, since several of these hold secrets.
 */
export function loadConfig(source: Source = process.env): AppConfig {
  const parsed = envSchema.safeParse(pickKnown(source));
  if (!parsed.success) {
    throw new ConfigError(describeIssues(parsed.error, '(environment)'));
  }
  const env = parsed.data;
  return {
    databaseUrl: env.DATABASE_URL,
    poolSize: env.DATABASE_POOL_SIZE,
    usePostgres: env.USE_POSTGRESQL,
    dualDatabaseMode: env.DUAL_DATABASE_MODE,
    migrationMode: env.MIGRATION_MODE,
    cosmos: cosmosSettings(env),
    queue: queueSettings(env),
  };
}

function pickKnown(source: Source): Source {
  const known: Source = {};
  for (const key of Object.keys(envSchema.shape)) known[key] = source[key];
  return known;
}

function cosmosSettings(env: Env): CosmosSettings | undefined {
  const names = { databaseName: env.AZURE_COSMOSDB_DATABASE_NAME, containerName: env.AZURE_COSMOSDB_CONTAINER_NAME };
  if (env.AZURE_COSMOSDB_CONNECTION_STRING) {
    return { auth: { kind: 'connectionString', connectionString: env.AZURE_COSMOSDB_CONNECTION_STRING }, ...names };
  }
  if (env.AZURE_COSMOSDB_ENDPOINT) {
    return { auth: { kind: 'identity', endpoint: env.AZURE_COSMOSDB_ENDPOINT, clientId: env.AZURE_CLIENT_ID }, ...names };
  }
  return undefined;
}

function queueSettings(env: Env): QueueSettings | undefined {
  const name = env.MIGRATION_QUEUE_NAME;
  if (env.AzureWebJobsStorage) return { name, auth: { kind: 'connectionString', connectionString: env.AzureWebJobsStorage } };
  const serviceUri =
    env.AzureWebJobsStorage__queueServiceUri ??
    (env.AzureWebJobsStorage__accountName && `https://${env.AzureWebJobsStorage__accountName}.queue.core.windows.net`);
  if (serviceUri) return { name, auth: { kind: 'identity', serviceUri, clientId: env.AzureWebJobsStorage__clientId } };
  return undefined;
}

/** What each part of the app needs before it can run; checked where it is needed, not at import. */
export function requirePostgres(config: AppConfig): string {
  if (!config.databaseUrl) {
    throw new ConfigError(['DATABASE_URL: required (a postgresql:// connection string)']);
  }
  return config.databaseUrl;
}

export function requireCosmos(config: AppConfig): CosmosSettings {
  if (!config.cosmos) {
    throw new ConfigError([
      'AZURE_COSMOSDB_CONNECTION_STRING or AZURE_COSMOSDB_ENDPOINT: one is required to reach Cosmos DB',
    ]);
  }
  return config.cosmos;
}

export function requireQueue(config: AppConfig): QueueSettings {
  if (!config.queue) {
    throw new ConfigError([
      'AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName: one is required to reach the migration queue',
    ]);
  }
  return config.queue;
}
