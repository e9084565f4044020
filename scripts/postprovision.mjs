#!/usr/bin/env node
// azd `postprovision` hook (azure.yaml): what a deployment cannot do itself, since it never deletes what it
// no longer declares. With private networking, the PostgreSQL firewall rules a public deployment created
// (the 0.0.0.0 "Azure services" rule, the operator's address) are removed: the server takes no public
// traffic then, and a rule left behind would admit it again the day public access is turned back on. And
// while a private endpoint to the Cosmos DB account awaits its owner's approval, it says so and how.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { azdSettings, azureCli, readParameterMappings } from './azd-hooks.mjs';

/** The firewall rules infra/modules/postgres.bicep creates with public access. */
export const templateFirewallRules = ['AllowAllAzureServicesAndResourcesWithinAzureIps', 'AllowOperatorClient'];

/**
 * Does what is left after a provision; returns what the operator must know (notes) and what failed.
 * @param {Record<string, string>} settings azd values and the deployment's outputs
 * @param {(args: string[]) => unknown} az the Azure CLI on azd's subscription
 * @returns {{ notes: string[], failures: string[] }}
 */
export function postprovision(settings, az) {
  const notes = [];
  const failures = [];
  const group = settings.AZURE_RESOURCE_GROUP;
  const server = settings.POSTGRES_SERVER_NAME;
  if (settings.USE_PRIVATE_NETWORKING === 'true' && group && server) {
    const rules = /** @type {Array<{ name: string }> | null} */ (
      az(['postgres', 'flexible-server', 'firewall-rule', 'list', '--resource-group', group, '--name', server])
    );
    for (const rule of rules ?? []) {
      if (!templateFirewallRules.includes(rule.name)) {
        notes.push(
          `PostgreSQL firewall rule ${rule.name} (not the template's) is left as it is; it admits nothing while public access is off.`,
        );
        continue;
      }
      try {
        az([
          'postgres',
          'flexible-server',
          'firewall-rule',
          'delete',
          '--resource-group',
          group,
          '--name',
          server,
          '--rule-name',
          rule.name,
          '--yes',
        ]);
        notes.push(`Removed PostgreSQL firewall rule ${rule.name}: with private networking the server takes no public traffic.`);
      } catch (error) {
        failures.push(
          `PostgreSQL firewall rule ${rule.name} could not be removed (${error instanceof Error ? error.message : String(error)}); ` +
            `a lock on the server (keep-postgres) forbids it: remove the lock, then az postgres flexible-server firewall-rule delete ` +
            `-g ${group} --name ${server} --rule-name ${rule.name} --yes, and put the lock back.`,
        );
      }
    }
  }
  const endpoint = settings.COSMOS_PRIVATE_ENDPOINT_NAME;
  if (endpoint && group) {
    const pe =
      /** @type {{ manualPrivateLinkServiceConnections?: Array<{ privateLinkServiceConnectionState?: { status?: string } }> } | null} */ (
        az(['network', 'private-endpoint', 'show', '--resource-group', group, '--name', endpoint])
      );
    const status = pe?.manualPrivateLinkServiceConnections?.[0]?.privateLinkServiceConnectionState?.status ?? 'unknown';
    if (status === 'Approved' && settings.COSMOS_PRIVATE_ENDPOINT !== 'approved') {
      notes.push(
        `Private endpoint ${endpoint} to the Cosmos DB account is approved: azd env set COSMOS_PRIVATE_ENDPOINT approved, then azd provision.`,
      );
    } else if (status !== 'Approved') {
      notes.push(
        `Private endpoint ${endpoint} to Cosmos DB account ${settings.COSMOS_ACCOUNT_NAME} is ${status}: its owner approves it ` +
          `(az cosmosdb private-endpoint-connection approve, docs/deploy.md "Networking"); the app keeps the public endpoint until then.`,
      );
    }
  }
  return { notes, failures };
}

function main() {
  const settings = {
    ...azdSettings(process.env, readParameterMappings()),
    ...pick(process.env, ['AZURE_RESOURCE_GROUP', 'POSTGRES_SERVER_NAME', 'COSMOS_PRIVATE_ENDPOINT_NAME']),
  };
  const { notes, failures } = postprovision(settings, azureCli(process.env).run);
  for (const note of notes) console.log(`postprovision: ${note}`);
  // A rule that stays behind is inert while public access is off: said loudly, but the deployment stands.
  for (const failure of failures) console.warn(`postprovision: WARNING ${failure}`);
  return 0;
}

/** @param {Record<string, string | undefined>} env @param {string[]} names */
function pick(env, names) {
  return Object.fromEntries(names.map((name) => [name, env[name] ?? '']));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main();
  } catch (error) {
    console.error(`postprovision: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
