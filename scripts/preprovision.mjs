#!/usr/bin/env node
// azd `preprovision` hook (azure.yaml): refuses, before anything is changed, a provision that would fail half
// way or leave the app unable to run, and says what to do instead. Checked from the azd values alone: the
// required ones, combinations the template allows but Azure or the app cannot serve, the PostgreSQL
// connection budget. Checked with the Azure CLI, on the subscription azd deploys to: the Microsoft.App
// resource provider (Flex Consumption VNet integration), continuous backup for AllVersionsAndDeletes, and a
// soft-deleted Key Vault left by `azd down` that would block the vault's name. docs/deploy.md, "Prerequisites".
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { azdSettings, azureCli, readParameterMappings } from './azd-hooks.mjs';
import { changeFeedPrerequisiteProblems, previewBundleProblems } from './check-change-feed-prerequisites.mjs';

/**
 * Flex Consumption scale groups of the app (Microsoft Learn, "Flex Consumption plan", per-function scaling):
 * the HTTP functions together, and each other function alone: cosmosSync, migrationQueue, and the
 * backlogTelemetry timer. test/integration/provision-hooks.test.ts counts them from the app's registrations.
 */
export const scaleGroups = 4;

/** Connections an Azure Database for PostgreSQL server keeps for itself (Microsoft Learn, "Limits"). */
export const reservedConnections = 15;

/** PgBouncer's `max_client_conn` on the built-in PgBouncer (Microsoft Learn, "PgBouncer in Azure Database for PostgreSQL"). */
export const pgBouncerMaxClientConnections = 5000;

/** `max_connections` by size, as infra/modules/alerts.bicep reads it. */
export function readMaxConnectionsBySku() {
  return JSON.parse(readFileSync(new URL('../infra/postgres-max-connections.json', import.meta.url), 'utf8'));
}

/**
 * What the azd values alone rule out; empty when nothing does.
 * @param {Record<string, string>} settings by azd variable (azdSettings), plus the hook-only COSMOSDB_PREVIEW_BUNDLE_ACCEPTED
 * @param {Record<string, number>} maxConnectionsBySku
 * @returns {string[]}
 */
export function settingProblems(settings, maxConnectionsBySku) {
  const problems = [];
  for (const [variable, what] of [
    ['COSMOS_ACCOUNT_NAME', 'the existing Cosmos DB account'],
    ['COSMOS_RESOURCE_GROUP', "that account's resource group"],
    ['POSTGRES_ENTRA_ADMIN_NAME', 'your user principal name: az ad signed-in-user show --query userPrincipalName -o tsv'],
  ]) {
    if (!settings[variable]) problems.push(`${variable} is not set: azd env set ${variable} <${what}>.`);
  }
  const privateNetworking = settings.USE_PRIVATE_NETWORKING === 'true';
  if (settings.COSMOS_PRIVATE_ENDPOINT && settings.COSMOS_PRIVATE_ENDPOINT !== 'none' && !privateNetworking) {
    problems.push(
      `COSMOS_PRIVATE_ENDPOINT=${settings.COSMOS_PRIVATE_ENDPOINT} needs USE_PRIVATE_NETWORKING=true: the endpoint lives in the ` +
        'app\'s virtual network (docs/deploy.md, "Networking").',
    );
  }
  problems.push(
    ...previewBundleProblems({ mode: settings.COSMOSDB_CHANGE_FEED_MODE, accepted: settings.COSMOSDB_PREVIEW_BUNDLE_ACCEPTED }),
  );
  const sku = settings.POSTGRES_SKU_NAME;
  const maxConnections =
    Number(settings.POSTGRES_MAX_CONNECTIONS) > 0 ? Number(settings.POSTGRES_MAX_CONNECTIONS) : maxConnectionsBySku[sku];
  if (!maxConnections) {
    problems.push(
      `POSTGRES_SKU_NAME=${sku} is not in infra/postgres-max-connections.json: azd env set POSTGRES_MAX_CONNECTIONS <its max_connections> ` +
        '(Microsoft Learn, "Limits in Azure Database for PostgreSQL"), so the connections alert and this budget know the limit.',
    );
  } else {
    problems.push(...connectionBudgetProblems(settings, maxConnections));
  }
  return problems;
}

/**
 * The connections the app may open at full scale against what the server takes: every scale group at
 * MAXIMUM_INSTANCE_COUNT, each instance with DATABASE_POOL_SIZE (docs/deploy.md, "Connections"). Through the
 * built-in PgBouncer (General Purpose, Memory Optimized) the limit is its max_client_conn; on Burstable,
 * which has none, the server's user connections.
 * @param {Record<string, string>} settings
 * @param {number} maxConnections
 * @returns {string[]}
 */
export function connectionBudgetProblems(settings, maxConnections) {
  const instances = Number(settings.MAXIMUM_INSTANCE_COUNT);
  const pool = Number(settings.DATABASE_POOL_SIZE);
  const clients = scaleGroups * instances * pool;
  const pgBouncer = settings.POSTGRES_SKU_TIER !== 'Burstable';
  const limit = pgBouncer ? pgBouncerMaxClientConnections : maxConnections - reservedConnections;
  if (clients <= limit) return [];
  const fitting = Math.floor(limit / (scaleGroups * instances));
  return [
    `The app may open ${scaleGroups} scale groups × ${instances} instances × ${pool} connections = ${clients} connections, more than ` +
      (pgBouncer
        ? `PgBouncer's max_client_conn ${limit}`
        : `the ${limit} user connections of ${settings.POSTGRES_SKU_NAME} (no PgBouncer on Burstable)`) +
      `: ${fitting > 0 ? `azd env set DATABASE_POOL_SIZE ${fitting}` : 'lower MAXIMUM_INSTANCE_COUNT or choose a larger size'} (docs/deploy.md, "Connections").`,
  ];
}

/**
 * What the Azure CLI finds in the way; empty when nothing is.
 * @param {Record<string, string>} settings
 * @param {(args: string[]) => unknown} az the Azure CLI on azd's subscription (azureCli)
 * @returns {string[]}
 */
export function azureProblems(settings, az) {
  const problems = [];
  if (settings.USE_PRIVATE_NETWORKING === 'true') {
    const provider = /** @type {{ registrationState?: string } | null} */ (az(['provider', 'show', '--namespace', 'Microsoft.App']));
    if (provider?.registrationState !== 'Registered') {
      problems.push(
        `The Microsoft.App resource provider is ${provider?.registrationState ?? 'not registered'} on this subscription; Flex Consumption VNet ` +
          'integration needs it (a subnet delegated to Microsoft.App/environments): az provider register --namespace Microsoft.App --wait',
      );
    }
  }
  if (settings.COSMOSDB_CHANGE_FEED_MODE === 'AllVersionsAndDeletes' && settings.COSMOS_ACCOUNT_NAME && settings.COSMOS_RESOURCE_GROUP) {
    const account = /** @type {{ backupPolicy?: { type?: string } } | null} */ (
      az(['cosmosdb', 'show', '--name', settings.COSMOS_ACCOUNT_NAME, '--resource-group', settings.COSMOS_RESOURCE_GROUP])
    );
    problems.push(
      ...changeFeedPrerequisiteProblems({ mode: settings.COSMOSDB_CHANGE_FEED_MODE, backupPolicyType: account?.backupPolicy?.type }),
    );
  }
  problems.push(...deletedVaultProblems(settings, az));
  return problems;
}

/**
 * A vault of this environment in soft-delete (after `azd down` without --purge) keeps its name for its
 * retention: the template names the vault the same way each time, so creating it would fail. Found by the
 * azd-env-name tag it carries and the region.
 * @param {Record<string, string>} settings
 * @param {(args: string[]) => unknown} az
 * @returns {string[]}
 */
export function deletedVaultProblems(settings, az) {
  if (!settings.AZURE_ENV_NAME) return [];
  const deleted =
    /** @type {Array<{ name: string, properties?: { location?: string, tags?: Record<string, string>, scheduledPurgeDate?: string, purgeProtectionEnabled?: boolean } }> | null} */ (
      az(['keyvault', 'list-deleted', '--resource-type', 'vault'])
    );
  const location = (settings.AZURE_LOCATION ?? '').replaceAll(' ', '').toLowerCase();
  return (deleted ?? [])
    .filter((vault) => vault.properties?.tags?.['azd-env-name'] === settings.AZURE_ENV_NAME)
    .filter((vault) => !location || (vault.properties?.location ?? '').replaceAll(' ', '').toLowerCase() === location)
    .map((vault) =>
      vault.properties?.purgeProtectionEnabled
        ? `Key Vault ${vault.name} of environment ${settings.AZURE_ENV_NAME} is soft-deleted with purge protection until ` +
          `${vault.properties.scheduledPurgeDate}; its name cannot be reused before then. Use another environment name (azd env new).`
        : `Key Vault ${vault.name} of environment ${settings.AZURE_ENV_NAME} is soft-deleted (until ${vault.properties?.scheduledPurgeDate}) ` +
          `and holds its name: az keyvault purge --name ${vault.name} --location ${vault.properties?.location} ` +
          '(it holds at most the password-transition secret); `azd down --purge` avoids this next time.',
    );
}

function main() {
  const settings = {
    ...azdSettings(process.env, readParameterMappings()),
    COSMOSDB_PREVIEW_BUNDLE_ACCEPTED: process.env.COSMOSDB_PREVIEW_BUNDLE_ACCEPTED ?? '',
    AZURE_ENV_NAME: process.env.AZURE_ENV_NAME ?? '',
    AZURE_LOCATION: process.env.AZURE_LOCATION ?? '',
  };
  const problems = settingProblems(settings, readMaxConnectionsBySku());
  const cli = azureCli(process.env);
  if (!cli.subscription) {
    console.log("preprovision: AZURE_SUBSCRIPTION_ID is not set yet; checking the Azure CLI's default subscription (az account show).");
  }
  problems.push(...azureProblems(settings, cli.run));
  for (const problem of problems) console.error(`preprovision: ${problem}`);
  if (problems.length === 0) console.log(`preprovision: checks passed${cli.subscription ? ` on subscription ${cli.subscription}` : ''}.`);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main();
  } catch (error) {
    console.error(`preprovision: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
