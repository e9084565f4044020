import { beforeAll, describe, expect, it } from 'vitest';
import {
  cosmosAccountWritten,
  describe as describeResource,
  forEachParameterCombination,
  ordered,
  type Walk,
  walkDeployment,
} from '../support/bicep-deployment.js';
import type { BicepValue } from '../support/bicep-evaluate.js';
import { AZURE_FACTS, type Infra, infraDir, loadInfra, REQUIRED_MAIN_PARAMS, testSubscription } from '../support/infra-fixture.js';

/*
 * The whole deployment, for every combination of the parameter values the templates allow, as ARM would
 * expand it before deploying anything (test/support/bicep-deployment.ts: no Bicep compiler runs here). Two
 * failures that only a first `azd up` would otherwise show:
 * - a name or scope with an empty segment: ARM computes the names and scopes of every resource, conditions
 *   false included, and fails the whole deployment with "incorrect segment lengths" (Azure/bicep #7733, #14528);
 * - two writes on the existing Cosmos DB account that may run at once: Cosmos DB takes one control-plane
 *   operation per account at a time and answers another with 412 "another operation in progress"
 *   (terraform-provider-azurerm #15842, #17233).
 * Values only a deployment knows (an identity's principal id) stand in as opaque text: they are mixed into
 * names (guid()), never the reason a segment is empty.
 */

interface Deployment {
  params: Record<string, BicepValue>;
  walk: Walk;
  problems: string[];
}

let infra: Infra;
const deployments: Deployment[] = [];

beforeAll(async () => {
  infra = await loadInfra();
  const main = infra.file('main.bicep');
  forEachParameterCombination(
    main,
    REQUIRED_MAIN_PARAMS,
    (params) => ({
      file: main,
      params,
      externals: AZURE_FACTS,
      infra: { files: infra.files, dir: infraDir },
      target: { subscriptionId: testSubscription },
      runtime: 'placeholder',
      problems: [],
    }),
    (scope, params) => deployments.push({ params, walk: walkDeployment(scope), problems: scope.problems ?? [] }),
  );
}, 300_000);

/** What each parameter was set to across the combinations (the default counts as "left out"). */
function valuesTried(name: string): unknown[] {
  return [...new Set(deployments.map((d) => (name in d.params ? d.params[name] : 'default')))];
}

describe('every parameter combination the templates allow', () => {
  it('covers the flags both ways, and the empty strings the parameters allow', () => {
    expect(deployments.length).toBeGreaterThan(100);
    expect(valuesTried('usePrivateNetworking').sort()).toEqual([false, true]);
    expect(valuesTried('postgresPasswordAuth').sort()).toEqual([false, true]);
    expect(valuesTried('cosmosPrivateEndpoint').sort()).toEqual(['approved', 'none', 'requested']);
    expect(valuesTried('operatorCosmosDataRole').sort()).toEqual(['Contributor', 'Reader']);
    // The operator's object id empty (no operator roles) and given.
    expect(valuesTried('principalId')).toEqual(expect.arrayContaining(['default', 'sample-principalid']));
    // Every module of main.bicep deployed in some combination, and skipped in another where it is conditional.
    const mainModules = new Set(
      deployments.flatMap((d) => d.walk.modules.filter((m) => m.path.length === 1 && m.deployed).map((m) => m.deploymentName)),
    );
    expect([...mainModules]).toEqual(expect.arrayContaining(['network', 'pe-cosmos', 'pe-postgres', 'rbac', 'alerts']));
  });

  it('names and scopes every resource and module without an empty segment, deployed or not', () => {
    const problems = new Map<string, Record<string, BicepValue>>();
    for (const { params, problems: found } of deployments)
      for (const problem of found) if (!problems.has(problem)) problems.set(problem, params);
    expect([...problems].map(([problem, params]) => `${problem} (with ${JSON.stringify(params)})`)).toEqual([]);
    for (const { walk } of deployments) {
      for (const module of walk.modules) expect(module.deploymentName, describeResource(module)).toMatch(/^[\w.()-]{1,64}$/);
    }
  });

  it('deploys the writes on one Cosmos DB account one after another', () => {
    const unordered = new Set<string>();
    let pairs = 0;
    for (const { walk } of deployments) {
      const writes = walk.resources.filter((resource) => cosmosAccountWritten(resource) !== undefined);
      for (const [i, a] of writes.entries()) {
        for (const b of writes.slice(i + 1)) {
          if (cosmosAccountWritten(a) !== cosmosAccountWritten(b)) continue;
          pairs++;
          if (!ordered(a, b)) unordered.add(`${describeResource(a)}  |  ${describeResource(b)}`);
        }
      }
    }
    expect([...unordered]).toEqual([]);
    // The lease container, the app's and the operator's role assignments, and the private endpoint met in pairs.
    expect(pairs).toBeGreaterThan(deployments.length);
  });

  it('puts the writes on the Cosmos DB account where the check looks for them', () => {
    const everything = deployments.find(
      (d) => d.params.usePrivateNetworking === true && d.params.cosmosPrivateEndpoint === 'approved' && d.params.principalId,
    );
    const writes =
      everything?.walk.resources.filter((resource) => cosmosAccountWritten(resource) !== undefined).map(describeResource) ?? [];
    expect(writes).toEqual([
      expect.stringMatching(/cosmosEndpoint > modules\/private-endpoint\.bicep:\d+ endpoint$/),
      expect.stringMatching(/cosmosLeases > modules\/cosmos-leases\.bicep:\d+ leases$/),
      expect.stringMatching(/rbac > modules\/rbac\.bicep:\d+ appCosmosDataContributor > modules\/cosmos-data-role\.bicep:\d+ assignment$/),
      expect.stringMatching(
        /rbac > modules\/rbac\.bicep:\d+ operatorCosmosDataRoleAssignment > modules\/cosmos-data-role\.bicep:\d+ assignment$/,
      ),
    ]);
  });
});
