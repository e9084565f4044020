import { z } from 'zod';
import { issuesOf } from '../core/describe-issues.js';
import { ConfigError, type SettingProblem } from '../core/errors.js';

/**
 * Every setting the app reads, in one place. Functions, the CLI and the tests all go through
 * `loadConfig`, so a missing or malformed value fails at start with the variable's name.
 */

const flag = () =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return false;
      if (['true', '1', 'yes', 'on'].includes(value)) return true;
      if (['false', '0', 'no', 'off'].includes(value)) return false;
      ctx.addIssue({ code: 'custom', message: 'expected true or false' });
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

/** Comma-separated region names ("Sweden Central,West Europe"), in the order the SDK should try them. */
const regionList = optionalText.transform((value) => {
  const regions = (value ?? '')
    .split(',')
    .map((region) => region.trim())
    .filter((region) => region !== '');
  return regions.length > 0 ? regions : undefined;
});

/** A positive number (fractions allowed), or undefined when unset. */
const positiveNumber = optionalText.transform((value, ctx) => {
  if (value === undefined) return undefined;
  const parsed = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed) || parsed <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a positive number' });
    return z.NEVER;
  }
  return parsed;
});

const httpsUrl = optionalText.refine(
  (value) => value === undefined || /^https?:\/\/[^\s]+$/.test(value),
  'expected an https:// endpoint URL',
);

/** The raw environment schema: names are the variables users set. */
export const envSchema = z.object({
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: positiveInt(5, 100),
  DATABASE_RETRY_WINDOW_SECONDS: positiveInt(60, 3600),
  DATABASE_STATEMENT_TIMEOUT_SECONDS: positiveInt(120, 3600),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: positiveInt(60, 3600),
  DATABASE_QUERY_TIMEOUT_SECONDS: positiveInt(150, 3600),
  DATABASE_CONNECT_TIMEOUT_SECONDS: positiveInt(15, 600),
  DATABASE_KEEPALIVE_SECONDS: positiveInt(10, 3600),
  DELETE_RETENTION_DAYS: positiveInt(7, 365),
  DATABASE_AUTH: optionalText
    .transform((value) => value?.toLowerCase() ?? 'password')
    .pipe(z.enum(['password', 'entra'], 'expected password or entra')),
  USE_POSTGRESQL: flag(),
  DUAL_DATABASE_MODE: flag(),
  MIGRATION_MODE: flag(),
  AZURE_COSMOSDB_CONNECTION_STRING: cosmosConnectionString,
  AZURE_COSMOSDB_ENDPOINT: httpsUrl,
  AZURE_CLIENT_ID: optionalText,
  AZURE_COSMOSDB_DATABASE_NAME: optionalText.transform((value) => value ?? 'NostriaDB'),
  AZURE_COSMOSDB_CONTAINER_NAME: optionalText.transform((value) => value ?? 'Documents'),
  COSMOSDB_PREFERRED_LOCATIONS: regionList,
  COSMOSDB_CHANGE_FEED_MODE: optionalText
    .transform((value) => value ?? 'LatestVersion')
    .pipe(z.enum(['LatestVersion', 'AllVersionsAndDeletes'], 'expected LatestVersion or AllVersionsAndDeletes')),
  /** Priority of the migration's and the sync runner's Cosmos reads; unset sends none (High, the service's default). */
  COSMOSDB_PRIORITY_LEVEL: optionalText.pipe(z.enum(['Low', 'High'], 'expected Low or High').optional()),
  /** Request units per second that all of the migration's Cosmos reads share, across every process; unset: no limit. */
  MIGRATION_MAX_RU_PER_SECOND: positiveNumber,
  MIGRATION_QUEUE_NAME: optionalText
    .transform((value) => value ?? 'nostria-migration')
    .refine(
      (value) => /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(value),
      'expected a storage queue name (3-63 lowercase letters, digits, hyphens)',
    ),
  AzureWebJobsStorage: optionalText,
  AzureWebJobsStorage__accountName: optionalText,
  AzureWebJobsStorage__queueServiceUri: httpsUrl,
  AzureWebJobsStorage__clientId: optionalText,
});

export type Env = z.infer<typeof envSchema>;

export interface CosmosSettings {
  /**
   * How the SDK authenticates: a key from the connection string, or Entra ID: the user-assigned managed
   * identity `clientId` names in Azure, DefaultAzureCredential where none is named (see azure-credential.ts).
   */
  auth: { kind: 'connectionString'; connectionString: string } | { kind: 'identity'; endpoint: string; clientId?: string };
  databaseName: string;
  containerName: string;
  /** Regions to read from, nearest first (`COSMOSDB_PREFERRED_LOCATIONS`); unset reads from the account's default region. */
  preferredLocations?: string[];
  /**
   * `COSMOSDB_PRIORITY_LEVEL`: the priority of the migration's and the sync runner's reads. `Low` makes the
   * service throttle them before the application's own requests, once priority-based execution is enabled
   * on the account (learn.microsoft.com/azure/cosmos-db/priority-based-execution); without it, it does nothing.
   */
  priorityLevel?: 'Low' | 'High';
}

/**
 * How the app signs in to PostgreSQL (`DATABASE_AUTH`): the password in DATABASE_URL (local development,
 * and Azure while password authentication is kept during the switch to Entra), or a Microsoft Entra access
 * token from the identity `clientId` names (DATABASE_URL then names the role and carries no password).
 */
export type DatabaseAuth = { kind: 'password' } | { kind: 'entra'; clientId?: string };

/**
 * How long PostgreSQL may take before a call gives up, in milliseconds, so that an outage ends in an error (or
 * is ridden out) instead of a hang (`createPrismaClient` takes them).
 */
export interface PostgresTimeoutSettings {
  /** Transient errors (a failover, a restart, a dropped connection) are retried with backoff for this long. */
  retryWindowMs: number;
  /** Server side, per statement of the write path's transactions (`statement_timeout`, set per transaction). */
  statementTimeoutMs: number;
  /** Server side: a write transaction left idle this long is ended (`idle_in_transaction_session_timeout`). */
  idleInTransactionTimeoutMs: number;
  /** Client side, per query: no answer within this long and the connection is destroyed. Longer than the statement timeout. */
  queryTimeoutMs: number;
  /** Client side: opening a connection (TCP, TLS and sign-in) may take this long. */
  connectTimeoutMs: number;
  /** TCP keepalive probes start after a connection has been idle this long, so a dead idle peer is noticed. */
  keepAliveInitialDelayMs: number;
}

export interface QueueSettings {
  name: string;
  /** The host's storage: a connection string locally (Azurite), the account by identity in Azure. */
  auth: { kind: 'connectionString'; connectionString: string } | { kind: 'identity'; serviceUri: string; clientId?: string };
}

export interface AppConfig {
  databaseUrl?: string;
  /** Unset means the password in `databaseUrl` (see {@link databaseAuthOf}). */
  databaseAuth?: DatabaseAuth;
  poolSize: number;
  /**
   * How long PostgreSQL may take before calls give up (DATABASE_*_SECONDS); unset in a configuration built by
   * hand means the defaults (see `postgresTimeoutsOf`).
   */
  postgresTimeouts?: PostgresTimeoutSettings;
  /** Days a delete is remembered (a tombstone) so that a stale copy cannot bring its row back (DELETE_RETENTION_DAYS). */
  deleteRetentionDays?: number;
  usePostgres: boolean;
  dualDatabaseMode: boolean;
  migrationMode: boolean;
  /**
   * `MIGRATION_MAX_RU_PER_SECOND`: the request units per second that the migration's Cosmos reads share, all
   * chains and processes together (see `RequestUnitBudget`); undefined: no limit beyond Cosmos's throttling.
   */
  maxRequestUnitsPerSecond?: number;
  cosmos?: CosmosSettings;
  queue?: QueueSettings;
}

type Source = Record<string, string | undefined>;

/**
 * Reads and validates the environment. Messages name the variable and what was expected;
 * they never include the value, since several of these hold secrets.
 */
export function loadConfig(source: Source = process.env): AppConfig {
  return loadConfigFor([], source);
}

/** What a part of the app needs configured before it can run. */
export type Requirement = 'postgres' | 'cosmos' | 'queue';

/**
 * {@link loadConfig}, also requiring the settings `needs` names, with EVERY problem reported in one
 * `ConfigError`: malformed values and missing requirements alike, so a person fixes them in one go.
 */
export function loadConfigFor(needs: readonly Requirement[], source: Source = process.env): AppConfig {
  const parsed = envSchema.safeParse(pickKnown(source));
  const problems = parsed.success
    ? []
    : issuesOf(parsed.error, '(environment)').map(({ path, message }) => ({ settings: [path], problem: message }));
  const malformed = new Set(problems.flatMap(({ settings }) => settings));
  const config = parsed.success ? configOf(parsed.data) : undefined;
  if (config) problems.push(...databaseAuthProblems(config), ...timeoutProblems(config));
  for (const need of needs) {
    const missing = requirementProblem(need, config, source);
    // A setting already reported as malformed is not also reported as missing.
    if (missing && !missing.settings.some((setting) => malformed.has(setting))) problems.push(missing);
  }
  if (!config || problems.length > 0) throw new ConfigError(problems);
  return config;
}

function configOf(env: Env): AppConfig {
  return {
    databaseUrl: env.DATABASE_URL,
    databaseAuth: env.DATABASE_AUTH === 'entra' ? { kind: 'entra', clientId: env.AZURE_CLIENT_ID } : { kind: 'password' },
    poolSize: env.DATABASE_POOL_SIZE,
    postgresTimeouts: {
      retryWindowMs: env.DATABASE_RETRY_WINDOW_SECONDS * 1000,
      statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000,
      idleInTransactionTimeoutMs: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS * 1000,
      queryTimeoutMs: env.DATABASE_QUERY_TIMEOUT_SECONDS * 1000,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_SECONDS * 1000,
      keepAliveInitialDelayMs: env.DATABASE_KEEPALIVE_SECONDS * 1000,
    },
    deleteRetentionDays: env.DELETE_RETENTION_DAYS,
    usePostgres: env.USE_POSTGRESQL,
    dualDatabaseMode: env.DUAL_DATABASE_MODE,
    migrationMode: env.MIGRATION_MODE,
    ...(env.MIGRATION_MAX_RU_PER_SECOND ? { maxRequestUnitsPerSecond: env.MIGRATION_MAX_RU_PER_SECOND } : {}),
    cosmos: cosmosSettings(env),
    queue: queueSettings(env),
  };
}

/**
 * With Entra authentication the token is the password, so a password in DATABASE_URL is a mistake (and a
 * secret where none should be), and the URL must name the database role the identity signs in as.
 */
function databaseAuthProblems(config: AppConfig): SettingProblem[] {
  if (config.databaseAuth?.kind !== 'entra' || config.databaseUrl === undefined) return [];
  let url: URL;
  try {
    url = new URL(config.databaseUrl);
  } catch {
    return [{ settings: ['DATABASE_URL'], problem: 'expected a postgresql:// connection string' }];
  }
  if (url.password !== '') {
    return [{ settings: ['DATABASE_URL'], problem: 'must carry no password with DATABASE_AUTH=entra (the Entra token is the password)' }];
  }
  if (url.username === '') {
    return [{ settings: ['DATABASE_URL'], problem: 'must name the Entra database role as its user with DATABASE_AUTH=entra' }];
  }
  return [];
}

/**
 * The client-side query timeout destroys a connection that has not answered; it must leave the server's own
 * statement timeout time to cancel a slow statement cleanly first.
 */
function timeoutProblems(config: AppConfig): SettingProblem[] {
  const timeouts = config.postgresTimeouts;
  if (!timeouts || timeouts.queryTimeoutMs > timeouts.statementTimeoutMs) return [];
  return [
    {
      settings: ['DATABASE_QUERY_TIMEOUT_SECONDS', 'DATABASE_STATEMENT_TIMEOUT_SECONDS'],
      problem: 'the query timeout must be longer than the statement timeout',
    },
  ];
}

/** How to sign in to PostgreSQL; a configuration built by hand without `databaseAuth` uses the URL's password. */
export function databaseAuthOf(config: AppConfig): DatabaseAuth {
  return config.databaseAuth ?? { kind: 'password' };
}

const requirements: Record<Requirement, SettingProblem> = {
  postgres: { settings: ['DATABASE_URL'], problem: 'required (a postgresql:// connection string)' },
  cosmos: { settings: ['AZURE_COSMOSDB_CONNECTION_STRING', 'AZURE_COSMOSDB_ENDPOINT'], problem: 'one is required to reach Cosmos DB' },
  queue: {
    settings: ['AzureWebJobsStorage', 'AzureWebJobsStorage__accountName'],
    problem: 'one is required to reach the migration queue (a connection string, or the account by identity)',
  },
};

/** The problem if `need` is not met: judged on the parsed config, or on the raw values when parsing failed. */
function requirementProblem(need: Requirement, config: AppConfig | undefined, source: Source): SettingProblem | undefined {
  const met = config
    ? { postgres: config.databaseUrl !== undefined, cosmos: config.cosmos !== undefined, queue: config.queue !== undefined }[need]
    : requirements[need].settings.some((setting) => (source[setting] ?? '').trim() !== '') ||
      (need === 'queue' && (source.AzureWebJobsStorage__queueServiceUri ?? '').trim() !== '');
  return met ? undefined : requirements[need];
}

function pickKnown(source: Source): Source {
  const known: Source = {};
  for (const key of Object.keys(envSchema.shape)) known[key] = source[key];
  return known;
}

function cosmosSettings(env: Env): CosmosSettings | undefined {
  const names = {
    databaseName: env.AZURE_COSMOSDB_DATABASE_NAME,
    containerName: env.AZURE_COSMOSDB_CONTAINER_NAME,
    ...(env.COSMOSDB_PREFERRED_LOCATIONS ? { preferredLocations: env.COSMOSDB_PREFERRED_LOCATIONS } : {}),
    ...(env.COSMOSDB_PRIORITY_LEVEL ? { priorityLevel: env.COSMOSDB_PRIORITY_LEVEL } : {}),
  };
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

/**
 * `COSMOSDB_PREFERRED_LOCATIONS` through the one schema, for the change-feed trigger's binding, which is
 * built when the app loads; undefined when unset (a single-region account needs none).
 */
export function preferredLocationsFrom(source: Source = process.env): string[] | undefined {
  const setting = 'COSMOSDB_PREFERRED_LOCATIONS';
  const parsed = envSchema.shape[setting].safeParse(source[setting]);
  if (!parsed.success) throw new ConfigError([{ settings: [setting], problem: 'expected comma-separated region names' }]);
  return parsed.data;
}

/** What each part of the app needs before it can run; checked where it is needed, not at import. */
export function requirePostgres(config: AppConfig): string {
  if (!config.databaseUrl) throw new ConfigError([requirements.postgres]);
  return config.databaseUrl;
}

export function requireCosmos(config: AppConfig): CosmosSettings {
  if (!config.cosmos) throw new ConfigError([requirements.cosmos]);
  return config.cosmos;
}

export function requireQueue(config: AppConfig): QueueSettings {
  if (!config.queue) throw new ConfigError([requirements.queue]);
  return config.queue;
}
