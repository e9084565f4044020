#!/usr/bin/env node
// azd `preprovision` hook (azure.yaml): before `azd provision` switches the sync to
// COSMOSDB_CHANGE_FEED_MODE=AllVersionsAndDeletes, checks that the existing Cosmos DB account can serve
// that mode. Microsoft Learn, "Change feed modes in Azure Cosmos DB": all versions and deletes needs
// continuous backup on the account (and the account feature "All versions and deletes change feed mode",
// which the Azure CLI does not report on every version; docs/deploy.md lists it as a prerequisite).
// Without continuous backup the trigger fails at run time; this refuses the provision instead, before
// any setting changes. LatestVersion needs nothing, so nothing is checked (and `az` is not required).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What stands in the way of running the sync in `mode` on an account with this backup policy type
 * (`backupPolicy.type` of the account: 'Periodic' or 'Continuous'); empty when nothing does.
 * @param {{ mode: string, backupPolicyType: string | undefined }} account
 * @returns {string[]}
 */
export function changeFeedPrerequisiteProblems({ mode, backupPolicyType }) {
  if (mode !== 'AllVersionsAndDeletes') return [];
  if (backupPolicyType === 'Continuous') return [];
  return [
    `COSMOSDB_CHANGE_FEED_MODE=AllVersionsAndDeletes needs continuous backup on the Cosmos DB account, which has ` +
      `${backupPolicyType ?? 'no known'} backup. ` +
      'Enable continuous backup (az cosmosdb update --backup-policy-type Continuous) and the account feature ' +
      '"All versions and deletes change feed mode", or keep LatestVersion.',
  ];
}

function backupPolicyTypeOf(accountName, resourceGroup) {
  const result = spawnSync(
    'az',
    ['cosmosdb', 'show', '--name', accountName, '--resource-group', resourceGroup, '--query', 'backupPolicy.type', '--output', 'tsv'],
    {
      encoding: 'utf8',
      shell: process.platform === 'win32',
    },
  );
  if (result.status !== 0) {
    throw new Error(
      `could not read the backup policy of Cosmos DB account ${accountName} with the Azure CLI: ` +
        `${(result.stderr || String(result.error)).trim()}`,
    );
  }
  return result.stdout.trim() || undefined;
}

function main() {
  const mode = process.env.COSMOSDB_CHANGE_FEED_MODE || 'LatestVersion';
  if (mode !== 'AllVersionsAndDeletes') return 0;
  const accountName = process.env.COSMOS_ACCOUNT_NAME;
  const resourceGroup = process.env.COSMOS_RESOURCE_GROUP;
  if (!accountName || !resourceGroup) {
    console.error('check-change-feed-prerequisites: set COSMOS_ACCOUNT_NAME and COSMOS_RESOURCE_GROUP (azd env set) first');
    return 1;
  }
  const problems = changeFeedPrerequisiteProblems({ mode, backupPolicyType: backupPolicyTypeOf(accountName, resourceGroup) });
  for (const problem of problems) console.error(`check-change-feed-prerequisites: ${problem}`);
  if (problems.length === 0) console.log(`Cosmos DB account ${accountName} has continuous backup: AllVersionsAndDeletes can be used.`);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main();
  } catch (error) {
    console.error(`check-change-feed-prerequisites: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
