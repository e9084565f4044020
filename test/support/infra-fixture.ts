import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Node } from 'web-tree-sitter';
import { type BicepFile, bodyObject, declarationNamed, loadBicepParser, parseInfra, propertyValue } from './bicep.js';
import type { BicepValue, Scope } from './bicep-evaluate.js';

/** infra/ parsed, with the lookups the infrastructure tests share. */

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const infraDir = join(repoRoot, 'infra');

/** What the templates may assume about the deployment, by expression text. */
export const AZURE_FACTS: Record<string, BicepValue> = {
  resourceToken: 'test',
  'environment().suffixes.storage': 'core.windows.net',
  'tenant().tenantId': '00000000-0000-0000-0000-00000000aaaa',
  'server.properties.fullyQualifiedDomainName': 'psql-test.postgres.database.azure.com',
  'database.name': 'nostria',
};

/** main.bicep's parameters without a usable default: what `azd env set` gives in docs/deploy.md, section 1. */
export const REQUIRED_MAIN_PARAMS: Record<string, BicepValue> = {
  environmentName: 'nostria-test',
  location: 'swedencentral',
  cosmosAccountName: 'nostria-cosmos',
  cosmosResourceGroupName: 'rg-nostria-cosmos',
  postgresEntraAdminName: 'operator@contoso.com',
};

export const testSubscription = '00000000-0000-0000-0000-00000000dddd';

export interface Infra {
  files: Map<string, BicepFile>;
  file(name: string): BicepFile;
  /** A scope of `name` with `params`, the Azure facts and `externals`. */
  scope(name: string, params?: Record<string, BicepValue>, externals?: Record<string, BicepValue>): Scope;
  /** main.bicep deployed with the required parameters and `params`, as a subscription deployment. */
  main(params?: Record<string, BicepValue>, externals?: Record<string, BicepValue>): Scope;
  module(name: string): Node;
  resource(file: string, name: string): Node;
  /** The expression main.bicep passes to `module`'s parameter `param`. */
  passedTo(module: string, param: string): Node;
}

export async function loadInfra(): Promise<Infra> {
  const files = parseInfra(await loadBicepParser(), infraDir);
  const file = (name: string) => {
    const found = files.get(name);
    if (!found) throw new Error(`infra/${name} was not parsed`);
    return found;
  };
  const scope = (name: string, params: Record<string, BicepValue> = {}, externals: Record<string, BicepValue> = {}): Scope => ({
    file: file(name),
    params,
    externals: { ...AZURE_FACTS, ...externals },
    infra: { files, dir: infraDir },
    target: { subscriptionId: testSubscription },
  });
  const module = (name: string) => declarationNamed(file('main.bicep').root, 'module_declaration', name);
  return {
    files,
    file,
    scope,
    main: (params = {}, externals = {}) => scope('main.bicep', { ...REQUIRED_MAIN_PARAMS, ...params }, externals),
    module,
    resource: (name, resource) => declarationNamed(file(name).root, 'resource_declaration', resource),
    passedTo: (moduleName, param) => {
      const value = propertyValue(propertyValue(bodyObject(module(moduleName)), 'params'), param);
      if (!value) throw new Error(`main.bicep passes no ${param} to module ${moduleName}`);
      return value;
    },
  };
}
