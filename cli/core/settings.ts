import { type AppConfig, loadConfigFor, type Requirement } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { ConfigError, NotConfiguredError } from '../../shared/core/errors.js';
import { createCosmosClient, documentsContainer } from '../../shared/cosmos/cosmos-client.js';
import { closeServices, useServices } from '../../shared/runtime/services.js';

/** Where a command reads its settings: the process's environment, or one a test passes in. */
export type Environment = Record<string, string | undefined>;

/** What each setting a command may read means, for the commands' `--help` (one line each). */
export const settingHelp = {
  DATABASE_URL: 'PostgreSQL connection string, postgresql://user:password@host:5432/database (required)',
  DATABASE_POOL_SIZE: 'PostgreSQL connections (default 5)',
  AZURE_COSMOSDB_CONNECTION_STRING: 'Cosmos DB by key: AccountEndpoint=...;AccountKey=...; (or the next one)',
  AZURE_COSMOSDB_ENDPOINT: 'Cosmos DB by Entra ID (DefaultAzureCredential; AZURE_CLIENT_ID picks a managed identity)',
  AZURE_COSMOSDB_DATABASE_NAME: 'default NostriaDB',
  AZURE_COSMOSDB_CONTAINER_NAME: 'default Documents',
  AZURE_COSMOSDB_ENDPOINT_DISCOVERY:
    'false for a single-endpoint server on plain http:// (the local one of `npm run local`); default true. Command line only',
  NODE_EXTRA_CA_CERTS: "PEM file of extra CAs to trust (a local emulator's certificate); TLS stays verified",
  MIGRATION_MODE: 'must be true: this command writes to PostgreSQL',
  MIGRATION_MAX_RU_PER_SECOND:
    'request units per second all Cosmos reads share, every process together (--max-ru overrides it; default no limit)',
  COSMOSDB_PRIORITY_LEVEL: 'Low: Cosmos throttles these reads before the application (needs priority-based execution on the account)',
  COSMOSDB_CHANGE_FEED_MODE: 'LatestVersion (default) or AllVersionsAndDeletes (carries deletes; needs continuous backup)',
  USE_POSTGRESQL: 'true: PostgreSQL is the primary (with DUAL_DATABASE_MODE=true, Cosmos DB is the mirror)',
  DUAL_DATABASE_MODE: 'true: writes go to both databases',
  AzureWebJobsStorage: 'Storage connection string (UseDevelopmentStorage=true for Azurite), or',
  AzureWebJobsStorage__accountName: 'the account by Entra ID (or __queueServiceUri; + __clientId for a user-assigned identity)',
  MIGRATION_QUEUE_NAME: 'the migration queue (default nostria-migration)',
  PRISMA_SCHEMA_ENGINE_BINARY: "Prisma's schema engine, when it is not in node_modules/@prisma/engines (Prisma's own setting)",
} as const;

export type SettingName = keyof typeof settingHelp;

/** The settings of the two databases, in the order help lists them. */
export const databaseSettings: readonly SettingName[] = [
  'DATABASE_URL',
  'AZURE_COSMOSDB_CONNECTION_STRING',
  'AZURE_COSMOSDB_ENDPOINT',
  'AZURE_COSMOSDB_DATABASE_NAME',
  'AZURE_COSMOSDB_CONTAINER_NAME',
  'DATABASE_POOL_SIZE',
  'AZURE_COSMOSDB_ENDPOINT_DISCOVERY',
  'NODE_EXTRA_CA_CERTS',
];

/** What to do when nothing is configured: the same words for every command. */
export const nothingConfiguredHint =
  'Set them in the environment (see README, "Configuration"). Nothing configured? `npm run demo` runs the whole\n' +
  'migration on throwaway local databases, and `npm run local` starts those databases for these commands to use.';

const discoverySetting = 'AZURE_COSMOSDB_ENDPOINT_DISCOVERY';

export interface CommandConfig {
  config: AppConfig;
  /**
   * Whether the Cosmos client may follow the account's advertised endpoints. Azure accounts advertise
   * their regional endpoints and keep it on; a single-endpoint local server on plain HTTP advertises an
   * https:// address for itself, which the client would then fail to reach (EPROTO), so it is turned off.
   */
  endpointDiscovery: boolean;
}

const what: Record<Requirement, string> = { postgres: 'PostgreSQL', cosmos: 'Cosmos DB', queue: 'the migration queue' };

/**
 * The settings a command needs, from `env` only. Every problem is reported at once (missing and malformed
 * alike, `AZURE_COSMOSDB_ENDPOINT_DISCOVERY` included), naming settings, never values, with the way to
 * try the commands on local databases instead.
 */
export function loadCommandConfig(needs: readonly Requirement[], env: Environment): CommandConfig {
  const problems: string[] = [];
  const settings: string[] = [];
  let config: AppConfig | undefined;
  try {
    config = loadConfigFor(needs, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    settings.push(...error.fields.settings);
  }
  const discovery = (env[discoverySetting] ?? '').trim().toLowerCase();
  if (!['', 'true', 'false'].includes(discovery)) {
    problems.push(`${discoverySetting}: expected true or false`);
    settings.push(discoverySetting);
  }
  if (!config || problems.length > 0) {
    const needed = needs.map((need) => what[need]).join(' and ');
    throw new NotConfiguredError(
      `This command works on ${needed}; these settings are missing or ` +
        `malformed:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n${nothingConfiguredHint}`,
      settings,
    );
  }
  return { config, endpointDiscovery: discovery !== 'false' };
}

export interface CommandServices {
  services: AppContext;
  close(): Promise<void>;
}

/**
 * The process's services for a command that works on both databases (`getServices()` returns them too,
 * for the guide's API). With endpoint discovery off, the Cosmos client is built here, since the
 * app's own lazily created client always discovers (the deployed app only ever talks to Azure).
 */
export function openCommandServices(env: Environment): CommandServices {
  const { config, endpointDiscovery } = loadCommandConfig(['postgres', 'cosmos'], env);
  if (endpointDiscovery || !config.cosmos) {
    return { services: useServices({ config }), close: closeServices };
  }
  const client = createCosmosClient(config.cosmos, { endpointDiscovery: false });
  const services = useServices({ config, cosmos: documentsContainer(client, config.cosmos) });
  return {
    services,
    close: async () => {
      client.dispose();
      await closeServices();
    },
  };
}
