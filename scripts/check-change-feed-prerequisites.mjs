// Whether the sync can run in the chosen change-feed mode, checked by the azd `preprovision` hook
// (scripts/preprovision.mjs) before anything changes. LatestVersion needs nothing.
//
// AllVersionsAndDeletes needs, on the existing Cosmos DB account, continuous backup (Microsoft Learn, "Change
// feed modes in Azure Cosmos DB") and the feature "All versions and deletes change feed mode", which the Azure
// CLI does not report on every version (docs/deploy.md lists it). And on the app's side it needs the Cosmos DB
// extension that honours the mode, which ships only in the Preview extension bundle (azure-webjobs-sdk-
// extensions PR #972: "only in our own preview package"); nothing Microsoft publishes says that Flex
// Consumption runs that bundle, or which extension version it carries. That is proven on a non-production app
// (docs/deploy.md, "Proving AllVersionsAndDeletes on a non-production app"): COSMOSDB_PREVIEW_BUNDLE_ACCEPTED=true
// lets a non-production trial provision, and production once that trial passed; without it the mode is refused.

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

/**
 * The Preview extension bundle on Flex Consumption, refused until the operator accepts it (a trial on a
 * non-production app, or production after that trial passed).
 * @param {{ mode: string, accepted: string | undefined }} settings COSMOSDB_CHANGE_FEED_MODE, COSMOSDB_PREVIEW_BUNDLE_ACCEPTED
 * @returns {string[]}
 */
export function previewBundleProblems({ mode, accepted }) {
  if (mode !== 'AllVersionsAndDeletes' || accepted === 'true') return [];
  return [
    'COSMOSDB_CHANGE_FEED_MODE=AllVersionsAndDeletes runs the sync on the Preview extension bundle, whose Cosmos DB ' +
      'extension is the only one that honours the mode; that Flex Consumption loads it and that it delivers deletes ' +
      'is not documented, so it is refused until proven. Prove it on a non-production app first (docs/deploy.md, ' +
      '"Proving AllVersionsAndDeletes on a non-production app": there, `azd env set COSMOSDB_PREVIEW_BUNDLE_ACCEPTED true` ' +
      'lets the trial provision), and set it here only once that trial passed; or keep LatestVersion.',
  ];
}
