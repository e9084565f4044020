import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Node, Parser } from 'web-tree-sitter';
import { parse as parseYaml } from 'yaml';
import { defaultPackageDir, packageMain } from '../../scripts/build-package.js';
import { changeFeedPrerequisiteProblems, previewBundleProblems } from '../../scripts/check-change-feed-prerequisites.mjs';
import { envSchema, loadConfig } from '../../shared/config/env.js';
import {
  allowedValues,
  type BicepFile,
  bodyObject,
  conditionOf,
  declarationNamed,
  declarations,
  declaredName,
  decoratorArgument,
  decoratorNames,
  enclosing,
  hasDefault,
  line,
  literalString,
  loadBicepParser,
  modulePath,
  moduleTarget,
  objectProperties,
  parseInfra,
  present,
  propertyKey,
  propertyPath,
  propertyValue,
  resourceType,
  syntaxProblems,
} from '../support/bicep.js';
import {
  type BicepValue,
  evaluate,
  evaluateDeclared,
  evaluateString,
  isDeployed,
  moduleScope,
  type Scope,
} from '../support/bicep-evaluate.js';
import { type CapturedRegistration, loadFunctionApp, settingsReadByBindings } from '../support/functions-core/load-function-app.js';
import { AZURE_FACTS } from '../support/infra-fixture.js';

/*
 * No Bicep compiler can run here, so infra/ is checked offline: every .bicep file is parsed with
 * tree-sitter-bicep (test/support/bicep.ts), and the syntax trees are checked, and where it matters
 * evaluated for given parameters, for what a compiler or a failed deployment would otherwise reveal
 * late: module wiring, the app settings against what the code and its bindings read, passwordless
 * PostgreSQL, PgBouncer and ports, private networking, scale bounds, azd wiring, and API versions
 * matching the table in docs/deploy.md.
 */

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const infraDir = join(repoRoot, 'infra');
const functionAppFile = 'modules/function-app.bicep';
const postgresFile = 'modules/postgres.bicep';

/** Settings only the Functions host reads (telemetry, its blob and table storage, and the extension bundle that overrides host.json's). */
const HOST_SETTINGS = [
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'AzureFunctionsJobHost__extensionBundle__id',
  'AzureFunctionsJobHost__extensionBundle__version',
];
/** Settings of the schema that only a local run uses; Azure sets the identity-based alternative instead. */
const LOCAL_ALTERNATIVES = ['AZURE_COSMOSDB_CONNECTION_STRING', 'AzureWebJobsStorage', 'AzureWebJobsStorage__accountName'];
/** Only a local run has these: Core Tools needs the worker runtime (Flex takes it from functionAppConfig), and locally Cosmos DB is reached by key. */
const LOCAL_ONLY_SETTINGS = ['FUNCTIONS_WORKER_RUNTIME', 'AZURE_COSMOSDB_CONNECTION_STRING'];

/** Microsoft Learn, "Azure Private Endpoint private DNS zone values", for the sub-resources used here. */
const PRIVATE_DNS_ZONE_OF: Record<string, string> = {
  postgresqlServer: 'privatelink.postgres.database.azure.com',
  blob: 'privatelink.blob.core.windows.net',
  queue: 'privatelink.queue.core.windows.net',
  vault: 'privatelink.vaultcore.azure.net',
};

let parser: Parser;
let bicep: Map<string, BicepFile>;
let registrations: Map<string, CapturedRegistration>;

beforeAll(async () => {
  parser = await loadBicepParser();
  bicep = parseInfra(parser, infraDir);
  // The app as Azure loads it: nothing configured but the preferred regions, so the sync binding names
  // every setting it can read.
  for (const name of Object.keys(envSchema.shape)) vi.stubEnv(name, undefined);
  vi.stubEnv('COSMOSDB_PREFERRED_LOCATIONS', 'West Europe');
  try {
    ({ registrations } = await loadFunctionApp());
  } finally {
    vi.unstubAllEnvs();
  }
});

function fileNamed(name: string): BicepFile {
  const file = bicep.get(name);
  if (!file) throw new Error(`infra/${name} was not parsed`);
  return file;
}

function scopeOf(name: string, params: Record<string, BicepValue> = {}, externals: Record<string, BicepValue> = {}): Scope {
  return { file: fileNamed(name), params, externals: { ...AZURE_FACTS, ...externals }, infra: { files: bicep, dir: infraDir } };
}

function resourceOrModule(file: string, name: string): Node {
  const root = fileNamed(file).root;
  return (
    declarations(root, 'module_declaration').find((m) => declaredName(m) === name) ?? declarationNamed(root, 'resource_declaration', name)
  );
}

function resourceNamed(file: string, name: string): Node {
  return declarationNamed(fileNamed(file).root, 'resource_declaration', name);
}

function moduleNamed(name: string): Node {
  return declarationNamed(fileNamed('main.bicep').root, 'module_declaration', name);
}

function mainParam(name: string): Node {
  return declarationNamed(fileNamed('main.bicep').root, 'parameter_declaration', name);
}

/** The expression main.bicep passes to `module`'s parameter `param`. */
function passedTo(module: string, param: string): Node {
  const value = propertyValue(propertyValue(bodyObject(moduleNamed(module)), 'params'), param);
  if (!value) throw new Error(`main.bicep passes no ${param} to module ${module}`);
  return value;
}

describe('infra Bicep syntax', () => {
  it('finds the templates', () => {
    expect([...bicep.keys()]).toEqual(expect.arrayContaining(['main.bicep', functionAppFile, postgresFile, 'modules/network.bicep']));
  });

  it('parses every template without ERROR or MISSING nodes', () => {
    const problems = [...bicep.values()].flatMap((file) => syntaxProblems(file.root, file.name));
    expect(problems).toEqual([]);
  });
});

describe('infra module wiring', () => {
  it('every module path exists, gets only declared params and all required ones', () => {
    const problems: string[] = [];
    for (const file of bicep.values()) {
      for (const module of declarations(file.root, 'module_declaration')) {
        const target = moduleTarget(bicep, infraDir, file, module);
        const where = `${file.name}: module ${declaredName(module)}`;
        if (!target) {
          problems.push(`${where}: '${modulePath(module)}' not found`);
          continue;
        }
        const declared = declarations(target.root, 'parameter_declaration');
        const passed = [...objectProperties(propertyValue(bodyObject(module), 'params')).keys()];
        for (const param of passed) {
          if (!declared.some((p) => declaredName(p) === param)) problems.push(`${where}: '${param}' is not a param of ${target.name}`);
        }
        for (const param of declared.filter((p) => !hasDefault(p)).map(declaredName)) {
          if (!passed.includes(param)) problems.push(`${where}: required param '${param}' of ${target.name} is not passed`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every <module>.outputs.<name> names an output the module declares', () => {
    const problems: string[] = [];
    for (const file of bicep.values()) {
      const targets = new Map(
        declarations(file.root, 'module_declaration').map((m) => [declaredName(m), moduleTarget(bicep, infraDir, file, m)] as const),
      );
      for (const member of present(file.root.descendantsOfType('member_expression'))) {
        const object = member.childForFieldName('object');
        if (object?.type !== 'member_expression' || object.childForFieldName('property')?.text !== 'outputs') continue;
        const symbol = object.childForFieldName('object')?.text ?? '';
        const output = member.childForFieldName('property')?.text ?? '';
        const target = targets.get(symbol);
        if (!target) continue;
        if (!declarations(target.root, 'output_declaration').map(declaredName).includes(output)) {
          problems.push(`${file.name}:${line(member)}: ${symbol}.outputs.${output} is not an output of ${target.name}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('reads outputs of a conditional module only under its own condition', () => {
    const main = fileNamed('main.bicep');
    const conditions = new Map(
      declarations(main.root, 'module_declaration')
        .map((m) => [declaredName(m), conditionOf(m)?.text] as const)
        .filter((entry): entry is readonly [string, string] => entry[1] !== undefined),
    );
    const problems: string[] = [];
    for (const member of present(main.root.descendantsOfType('member_expression'))) {
      const object = member.childForFieldName('object');
      if (object?.type !== 'member_expression' || object.childForFieldName('property')?.text !== 'outputs') continue;
      const symbol = object.childForFieldName('object')?.text ?? '';
      const condition = conditions.get(symbol);
      if (condition === undefined) continue;
      const ternary = enclosing(member, 'ternary_expression');
      const guarded =
        ternary?.childForFieldName('condition')?.text === condition &&
        ternary.childForFieldName('consequence')?.startIndex === member.startIndex;
      if (!guarded) problems.push(`main.bicep:${line(member)}: ${member.text} is read without "${condition} ? ... : ..."`);
    }
    expect(problems).toEqual([]);
  });

  it('keeps every role assignment in the rbac module, named guid(scope, principal, role)', () => {
    const problems: string[] = [];
    for (const file of bicep.values()) {
      for (const resource of declarations(file.root, 'resource_declaration')) {
        const type = resourceType(resource);
        if (!/^Microsoft\.(Authorization\/roleAssignments|DocumentDB\/databaseAccounts\/sqlRoleAssignments)@/.test(type)) continue;
        const where = `${file.name}:${line(resource)} ${declaredName(resource)}`;
        if (!['modules/rbac.bicep', 'modules/cosmos-data-role.bicep'].includes(file.name)) problems.push(`${where}: outside rbac.bicep`);
        const body = bodyObject(resource);
        const nameCall = propertyValue(body, 'name');
        const args = nameCall?.type === 'call_expression' ? present(nameCall.childForFieldName('arguments')?.namedChildren ?? []) : [];
        if (nameCall?.childForFieldName('function')?.text !== 'guid' || args.length !== 3) {
          problems.push(`${where}: name is not guid(scope, principal, role)`);
          continue;
        }
        if (args[1]?.text !== propertyPath(body, 'properties.principalId')?.text)
          problems.push(`${where}: guid's second argument is not the principalId`);
        const scope = propertyValue(body, 'scope')?.text;
        if (scope !== undefined && args[0]?.text !== `${scope}.id`) problems.push(`${where}: guid's first argument is not ${scope}.id`);
      }
    }
    expect(problems).toEqual([]);
  });
});

interface AppSetting {
  name: string;
  value: Node;
}

function appSettings(): AppSetting[] {
  const list = present(fileNamed(functionAppFile).root.descendantsOfType('object_property')).find(
    (property) => propertyKey(property) === 'appSettings',
  )?.lastNamedChild;
  if (list?.type !== 'array') throw new Error('appSettings is not an array literal');
  return present(list.namedChildren)
    .filter((entry) => entry.type !== 'comment')
    .map((entry) => {
      const name = literalString(propertyValue(entry, 'name'));
      const value = propertyValue(entry, 'value');
      if (name === undefined || !value)
        throw new Error(`${functionAppFile}:${line(entry)}: each app setting needs a literal name and a value`);
      return { name, value };
    });
}

function appSetting(name: string): AppSetting {
  const setting = appSettings().find((s) => s.name === name);
  if (!setting) throw new Error(`app setting ${name} is not set`);
  return setting;
}

/** A connection's settings share its name as a prefix: `AzureWebJobsStorage__accountName` belongs to `AzureWebJobsStorage`. */
const connectionRoot = (name: string) => name.split('__')[0] ?? name;

/** The function app module as main.bicep deploys it with `mainParams`. */
function functionAppScope(mainParams: Record<string, BicepValue>, externals: Record<string, BicepValue> = {}): Scope {
  return moduleScope(moduleNamed('functionApp'), scopeOf('main.bicep', mainParams, externals));
}

describe('function app settings', () => {
  it('are set in one appSettings list, on the function app only', () => {
    const lists = [...bicep.values()].flatMap((file) =>
      present(file.root.descendantsOfType('object_property'))
        .filter((property) => propertyKey(property) === 'appSettings')
        .map(() => file.name),
    );
    expect(lists).toEqual([functionAppFile]);
    const configResources = [...bicep.values()].flatMap((file) =>
      declarations(file.root, 'resource_declaration').filter((r) => resourceType(r).startsWith('Microsoft.Web/sites/config@')),
    );
    expect(configResources).toEqual([]);
  });

  it("set every setting the configuration and the bindings read, and nothing else but the host's own", () => {
    const names = appSettings().map((setting) => setting.name);
    expect(new Set(names).size).toBe(names.length);
    const bindings = settingsReadByBindings(registrations.values());
    const readByCode = Object.keys(envSchema.shape).filter((name) => !LOCAL_ALTERNATIVES.includes(name));
    const needed = [...readByCode, ...bindings.settings, ...HOST_SETTINGS];
    expect(needed.filter((name) => !names.includes(name))).toEqual([]);
    // A binding's connection is a prefix: the identity-based form sets <connection>__accountEndpoint etc.
    const roots = new Set(names.map(connectionRoot));
    expect(bindings.connections.filter((connection) => !roots.has(connection))).toEqual([]);
    const known = new Set([...needed, ...bindings.connections]);
    expect(names.filter((name) => !known.has(name) && !known.has(connectionRoot(name)))).toEqual([]);
  });

  it('reads the change feed from the configured regions: the binding and the SDK use the same setting', () => {
    const trigger = Object.values(registrations.get('cosmosSync')?.metadata.bindings ?? {}).find((binding) => binding.direction === 'in');
    expect(trigger?.preferredLocations).toBe('%COSMOSDB_PREFERRED_LOCATIONS%');
    expect(appSetting('COSMOSDB_PREFERRED_LOCATIONS').value.text).toBe('cosmosPreferredLocations');
    expect(passedTo('functionApp', 'cosmosPreferredLocations').text).toBe('cosmosPreferredLocations');
  });

  it('passes no @secure() parameter into any setting', () => {
    const secure = declarations(fileNamed(functionAppFile).root, 'parameter_declaration')
      .filter((p) => decoratorNames(p).includes('secure'))
      .map(declaredName);
    const leaks = appSettings().filter((s) =>
      present(s.value.descendantsOfType('identifier'))
        .concat(s.value.type === 'identifier' ? [s.value] : [])
        .some((id) => secure.includes(id.text)),
    );
    expect(leaks.map((s) => s.name)).toEqual([]);
  });

  it('uses the user-assigned identity for every identity-based connection', () => {
    for (const setting of appSettings().filter((s) => s.name.endsWith('__credential'))) {
      expect(literalString(setting.value), setting.name).toBe('managedidentity');
    }
    for (const setting of appSettings().filter((s) => s.name.endsWith('__clientId') || s.name === 'AZURE_CLIENT_ID')) {
      expect(setting.value.text, setting.name).toBe('identityClientId');
    }
    expect(appSetting('APPLICATIONINSIGHTS_AUTHENTICATION_STRING').value.text).toBe("'Authorization=AAD;ClientId=${identityClientId}'");
  });

  it('match local.settings.sample.json, connection by connection', () => {
    const local = JSON.parse(readFileSync(join(repoRoot, 'local.settings.sample.json'), 'utf8')) as { Values?: Record<string, string> };
    const localRoots = new Set(
      Object.keys(local.Values ?? {})
        .filter((n) => !LOCAL_ONLY_SETTINGS.includes(n))
        .map(connectionRoot),
    );
    const azureRoots = new Set(
      appSettings()
        .map((s) => s.name)
        .filter((n) => !HOST_SETTINGS.includes(n))
        .map(connectionRoot),
    );
    expect({
      onlyLocal: [...localRoots].filter((n) => !azureRoots.has(n)),
      onlyAzure: [...azureRoots].filter((n) => !localRoots.has(n)),
    }).toEqual({
      onlyLocal: [],
      onlyAzure: [],
    });
  });
});

describe('passwordless PostgreSQL (Microsoft Entra ID)', () => {
  const entra = { postgresPasswordAuth: false, postgresSkuTier: 'GeneralPurpose' };

  it('is the default: password authentication off unless kept for a transition', () => {
    expect(evaluate(valueOfParam('postgresPasswordAuth'), scopeOf('main.bicep'))).toBe(false);
    expect(literalString(mainParam('postgresAdministratorPassword').lastNamedChild)).toBe('');
  });

  it('turns on Entra authentication with the operator as the Entra administrator', () => {
    const server = bodyObject(resourceNamed(postgresFile, 'server'));
    const scope = scopeOf(postgresFile, { passwordAuth: false });
    expect(evaluate(propertyPath(server, 'properties.authConfig')!, scope)).toEqual({
      activeDirectoryAuth: 'Enabled',
      passwordAuth: 'Disabled',
      tenantId: AZURE_FACTS['tenant().tenantId'],
    });
    expect(evaluate(propertyPath(server, 'properties.authConfig.passwordAuth')!, scopeOf(postgresFile, { passwordAuth: true }))).toBe(
      'Enabled',
    );
    const admin = resourceNamed(postgresFile, 'entraAdmin');
    expect(resourceType(admin)).toBe('Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01');
    expect(propertyValue(bodyObject(admin), 'name')?.text).toBe('entraAdminObjectId');
    expect(propertyPath(bodyObject(admin), 'properties.principalName')?.text).toBe('entraAdminName');
    expect(passedTo('postgres', 'entraAdminObjectId').text).toBe('postgresEntraAdminObjectId');
    expect(valueOfParam('postgresEntraAdminObjectId').text).toBe('principalId');
  });

  it('lets no password reach the server, a setting or a secret when Entra is on', () => {
    const scope = scopeOf(postgresFile, { passwordAuth: false, administratorPassword: 'never-used', administratorLogin: 'nostriaadmin' });
    const server = bodyObject(resourceNamed(postgresFile, 'server'));
    expect(evaluate(propertyPath(server, 'properties.administratorLoginPassword')!, scope)).toBeNull();
    expect(evaluate(propertyPath(server, 'properties.administratorLogin')!, scope)).toBeNull();
    expect(isDeployed(resourceNamed(postgresFile, 'databaseUrl'), scope)).toBe(false);
    // Every use of the password in the template is under password authentication.
    const unguarded = present(fileNamed(postgresFile).root.descendantsOfType('identifier'))
      .filter((id) => id.text === 'administratorPassword' && id.parent?.type !== 'parameter_declaration')
      .filter((id) => !underPasswordAuth(id));
    expect(unguarded.map((id) => `${postgresFile}:${line(id)}`)).toEqual([]);
    // main.bicep hands the password to the postgres module only.
    const passwordUses = present(fileNamed('main.bicep').root.descendantsOfType('identifier')).filter(
      (id) => id.text === 'postgresAdministratorPassword' && id.parent?.type !== 'parameter_declaration',
    );
    expect(
      passwordUses.map((id) => (enclosing(id, 'module_declaration') ? declaredName(enclosing(id, 'module_declaration')!) : 'main')),
    ).toEqual(['postgres']);
    // The app is told to use Entra, and its DATABASE_URL names its role and carries no password.
    const app = functionAppScope({ ...entra, postgresEntraAdminName: 'operator@contoso.com' });
    expect(evaluate(appSetting('DATABASE_AUTH').value, app)).toBe('entra');
    const url = evaluateString(appSetting('DATABASE_URL').value, app);
    expect(url).toBe('postgresql://id-test@psql-test.postgres.database.azure.com:6432/nostria?sslmode=verify-full');
    // No Key Vault role on a secret that does not exist; its name is still a name (see infra-deployment.test.ts).
    expect(evaluate(passedTo('rbac', 'databaseUrlSecretExists'), scopeOf('main.bicep', entra))).toBe(false);
    expect(evaluate(passedTo('rbac', 'databaseUrlSecretName'), scopeOf('main.bicep', entra))).toBe('database-url');
    for (const name of ['appSecretsUser', 'operatorSecretsUser']) {
      expect(
        isDeployed(
          resourceNamed('modules/rbac.bicep', name),
          scopeOf('modules/rbac.bicep', {
            databaseUrlSecretName: 'database-url',
            databaseUrlSecretExists: false,
            operatorPrincipalId: 'x',
          }),
        ),
      ).toBe(false);
    }
    expect(evaluateDeclared('DATABASE_URL_SECRET_NAME', scopeOf('main.bicep', entra))).toBe('');
  });

  it('keeps DATABASE_URL a Key Vault reference resolved with the identity while password authentication is kept', () => {
    const secretUri = 'https://kv-x.vault.azure.net/secrets/database-url';
    const app = functionAppScope(
      { postgresPasswordAuth: true, postgresSkuTier: 'GeneralPurpose', postgresEntraAdminName: 'operator@contoso.com' },
      { 'databaseUrl.properties.secretUri': secretUri },
    );
    expect(evaluate(appSetting('DATABASE_AUTH').value, app)).toBe('password');
    expect(evaluate(appSetting('DATABASE_URL').value, app)).toBe(
      '@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/database-url)',
    );
    const site = bodyObject(resourceNamed(functionAppFile, 'site'));
    expect(propertyPath(site, 'properties.keyVaultReferenceIdentity')?.text).toBe('identityId');
    expect(isDeployed(resourceNamed(postgresFile, 'databaseUrl'), scopeOf(postgresFile, { passwordAuth: true }))).toBe(true);
  });

  it('says sslmode=verify-full, never require (which current pg warns about on every process)', () => {
    const infraText = [...bicep.values()].map((file) => file.root.text).join('\n');
    expect(infraText).not.toMatch(/sslmode=(require|prefer|verify-ca)\b/);
    expect(evaluateDeclared('sslQuery', scopeOf(postgresFile))).toBe('sslmode=verify-full');
  });
});

/** The expression of an output or var of `file`. */
function valueOfDeclared(file: string, name: string): Node {
  const root = fileNamed(file).root;
  const declaration = [...declarations(root, 'output_declaration'), ...declarations(root, 'variable_declaration')].find(
    (d) => declaredName(d) === name,
  );
  if (!declaration?.lastNamedChild) throw new Error(`${file}: no output or var ${name}`);
  return declaration.lastNamedChild;
}

/** The value after `=` of a main.bicep param (its default). */
function valueOfParam(name: string): Node {
  const param = mainParam(name);
  const value = param.lastNamedChild;
  if (!value || !hasDefault(param)) throw new Error(`param ${name} has no default`);
  return value;
}

/** Inside `passwordAuth ? <here> : ...` or a resource deployed `if (passwordAuth)`. */
function underPasswordAuth(node: Node): boolean {
  for (let current: Node | null = node; current; current = current.parent) {
    const parent = current.parent;
    if (parent?.type === 'ternary_expression' && parent.childForFieldName('condition')?.text === 'passwordAuth') {
      return parent.childForFieldName('consequence')?.startIndex === current.startIndex;
    }
    if (current.type === 'resource_declaration') return conditionOf(current)?.text === 'passwordAuth';
  }
  return false;
}

describe('the right server for the migration window', () => {
  it('defaults to General Purpose, whose built-in PgBouncer the app uses on port 6432', () => {
    expect(evaluate(valueOfParam('postgresSkuTier'), scopeOf('main.bicep'))).toBe('GeneralPurpose');
    const scope = scopeOf(postgresFile, { skuTier: 'GeneralPurpose', appRoleName: 'id-test' });
    expect(isDeployed(resourceNamed(postgresFile, 'pgBouncerEnabled'), scope)).toBe(true);
    const pgBouncer = bodyObject(resourceNamed(postgresFile, 'pgBouncerEnabled'));
    expect(evaluate(propertyValue(pgBouncer, 'name')!, scope)).toBe('pgbouncer.enabled');
    expect(evaluate(propertyPath(pgBouncer, 'properties.value')!, scope)).toBe('true');
    expect(new URL(evaluateString(valueOfDeclared(postgresFile, 'appEntraDatabaseUrl'), scope)).port).toBe('6432');
  });

  it('keeps migrations on 5432, since the applier holds a session lock', () => {
    for (const skuTier of ['GeneralPurpose', 'Burstable']) {
      const scope = scopeOf(postgresFile, { skuTier, entraAdminName: 'operator@contoso.com' });
      const url = evaluateString(valueOfDeclared(postgresFile, 'migrationDatabaseUrl'), scope);
      expect(new URL(url).port, skuTier).toBe('5432');
    }
  });

  it('uses no PgBouncer and port 5432 on Burstable, which has none', () => {
    const scope = scopeOf(postgresFile, { skuTier: 'Burstable', appRoleName: 'id-test' });
    expect(isDeployed(resourceNamed(postgresFile, 'pgBouncerEnabled'), scope)).toBe(false);
    expect(new URL(evaluateString(valueOfDeclared(postgresFile, 'appEntraDatabaseUrl'), scope)).port).toBe('5432');
  });

  it('bounds maximumInstanceCount to what Flex Consumption accepts, 40 to 1000, in main and in the module', () => {
    for (const [file, param] of [
      ['main.bicep', mainParam('maximumInstanceCount')],
      [functionAppFile, declarationNamed(fileNamed(functionAppFile).root, 'parameter_declaration', 'maximumInstanceCount')],
    ] as const) {
      expect(decoratorArgument(param, 'minValue')?.text, file).toBe('40');
      expect(decoratorArgument(param, 'maxValue')?.text, file).toBe('1000');
    }
    expect(evaluate(valueOfParam('maximumInstanceCount'), scopeOf('main.bicep'))).toBe(40);
  });
});

describe('private networking (usePrivateNetworking)', () => {
  const endpoints = ['postgresEndpoint', 'blobEndpoint', 'queueEndpoint', 'vaultEndpoint'];

  it('is off by default, with no network resources and public access on', () => {
    const main = scopeOf('main.bicep');
    expect(evaluateDeclared('usePrivateNetworking', main)).toBe(false);
    for (const module of ['network', ...endpoints]) expect(isDeployed(moduleNamed(module), main), module).toBe(false);
    expect(evaluate(passedTo('functionApp', 'virtualNetworkSubnetId'), main)).toBe('');
    expect(evaluateDeclared('publicNetworkAccess', main)).toBe(true);
  });

  it('puts PostgreSQL, blob, queue and Key Vault behind private endpoints registered in their private DNS zones', () => {
    const main = scopeOf('main.bicep', { usePrivateNetworking: true });
    const network = scopeOf('modules/network.bicep');
    const zoneNames = evaluateDeclared('zoneNames', network) as string[];
    const groups: string[] = [];
    for (const module of endpoints) {
      expect(isDeployed(moduleNamed(module), main), module).toBe(true);
      const groupId = evaluateString(passedTo(module, 'groupId'), main);
      groups.push(groupId);
      // main passes `network.outputs.<zone>`; network.bicep's output is `zones[i].id`, zones[i] named zoneNames[i].
      const zoneOutput = passedTo(module, 'privateDnsZoneId').childForFieldName('consequence')?.childForFieldName('property')?.text ?? '';
      const output = declarationNamed(network.file.root, 'output_declaration', zoneOutput);
      const index = Number(output.lastNamedChild?.childForFieldName('object')?.childForFieldName('index')?.text);
      expect(zoneNames[index], module).toBe(PRIVATE_DNS_ZONE_OF[groupId]);
      expect(passedTo(module, 'subnetId').text, module).toBe("usePrivateNetworking ? network.outputs.privateEndpointSubnetId : ''");
    }
    expect(groups.sort()).toEqual(['blob', 'postgresqlServer', 'queue', 'vault']);
    // Every zone is linked to the virtual network, or nothing inside resolves the private addresses.
    const links = declarationNamed(network.file.root, 'resource_declaration', 'zoneLinks');
    expect(links.text).toContain('range(0, length(zoneNames))');
  });

  it('turns the public rules off for PostgreSQL, storage and Key Vault', () => {
    const main = scopeOf('main.bicep', { usePrivateNetworking: true });
    const publicAccess = evaluateDeclared('publicNetworkAccess', main);
    expect(publicAccess).toBe(false);
    for (const module of ['postgres', 'storage', 'keyVault'])
      expect(passedTo(module, 'publicNetworkAccess').text, module).toBe('publicNetworkAccess');
    const postgres = scopeOf(postgresFile, { publicNetworkAccess: false, allowedClientIpAddress: '203.0.113.7' });
    expect(
      evaluate(propertyPath(bodyObject(resourceNamed(postgresFile, 'server')), 'properties.network.publicNetworkAccess')!, postgres),
    ).toBe('Disabled');
    expect(isDeployed(resourceNamed(postgresFile, 'allowAzureServices'), postgres)).toBe(false);
    expect(isDeployed(resourceNamed(postgresFile, 'allowOperatorClient'), postgres)).toBe(false);
    const storage = scopeOf('modules/storage.bicep', { publicNetworkAccess: false });
    expect(
      evaluate(propertyPath(bodyObject(resourceNamed('modules/storage.bicep', 'storage')), 'properties.publicNetworkAccess')!, storage),
    ).toBe('Disabled');
    expect(
      evaluate(propertyPath(bodyObject(resourceNamed('modules/storage.bicep', 'storage')), 'properties.networkAcls')!, storage),
    ).toEqual({
      bypass: 'None',
      defaultAction: 'Deny',
    });
    const vault = scopeOf('modules/key-vault.bicep', { publicNetworkAccess: false });
    expect(
      evaluate(propertyPath(bodyObject(resourceNamed('modules/key-vault.bicep', 'vault')), 'properties.publicNetworkAccess')!, vault),
    ).toBe('Disabled');
  });

  it('integrates the app with a subnet delegated to Microsoft.App/environments, outbound through a NAT gateway', () => {
    expect(passedTo('functionApp', 'virtualNetworkSubnetId').text).toBe("usePrivateNetworking ? network.outputs.appSubnetId : ''");
    const site = bodyObject(resourceNamed(functionAppFile, 'site'));
    expect(
      evaluate(
        propertyPath(site, 'properties.virtualNetworkSubnetId')!,
        scopeOf(functionAppFile, { virtualNetworkSubnetId: '/subnets/app' }),
      ),
    ).toBe('/subnets/app');
    const vnet = bodyObject(resourceNamed('modules/network.bicep', 'vnet'));
    const subnets = present(propertyPath(vnet, 'properties.subnets')?.namedChildren ?? []);
    const app = subnets.find((subnet) => literalString(propertyValue(subnet, 'name')) === 'app');
    expect(app?.text).toContain("serviceName: 'Microsoft.App/environments'");
    expect(propertyPath(app, 'properties.natGateway.id')?.text).toBe('natGateway.id');
    for (const subnet of subnets) expect(propertyPath(subnet, 'properties.defaultOutboundAccess')?.text).toBe('false');
  });
});

describe('the change-feed mode selects what it needs', () => {
  const bundleOf = (mode: string) => {
    const scope = functionAppScope({ cosmosChangeFeedMode: mode, postgresEntraAdminName: 'operator@contoso.com' });
    return {
      id: evaluate(appSetting('AzureFunctionsJobHost__extensionBundle__id').value, scope),
      version: evaluate(appSetting('AzureFunctionsJobHost__extensionBundle__version').value, scope),
    };
  };

  it("LatestVersion runs on host.json's generally available bundle", () => {
    const host = JSON.parse(readFileSync(join(repoRoot, 'host.json'), 'utf8')) as { extensionBundle: unknown };
    expect(bundleOf('LatestVersion')).toEqual(host.extensionBundle);
  });

  it('AllVersionsAndDeletes runs on the preview bundle, whose Cosmos DB extension honours the mode', () => {
    expect(bundleOf('AllVersionsAndDeletes')).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle.Preview', version: '[4.*, 5.0.0)' });
  });

  it('AllVersionsAndDeletes is refused before provisioning without continuous backup, or until the Preview bundle is accepted', () => {
    expect(changeFeedPrerequisiteProblems({ mode: 'AllVersionsAndDeletes', backupPolicyType: 'Periodic' })).toEqual([
      expect.stringContaining('needs continuous backup'),
    ]);
    expect(changeFeedPrerequisiteProblems({ mode: 'AllVersionsAndDeletes', backupPolicyType: 'Continuous' })).toEqual([]);
    expect(changeFeedPrerequisiteProblems({ mode: 'LatestVersion', backupPolicyType: 'Periodic' })).toEqual([]);
    expect(previewBundleProblems({ mode: 'AllVersionsAndDeletes', accepted: undefined })).toEqual([
      expect.stringContaining('Proving AllVersionsAndDeletes on a non-production app'),
    ]);
    expect(previewBundleProblems({ mode: 'AllVersionsAndDeletes', accepted: 'true' })).toEqual([]);
    expect(previewBundleProblems({ mode: 'LatestVersion', accepted: undefined })).toEqual([]);
    // The runbook has the section the refusal points to.
    expect(readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8')).toContain(
      '### Proving AllVersionsAndDeletes on a non-production app',
    );
    const azureYaml = parseYaml(readFileSync(join(repoRoot, 'azure.yaml'), 'utf8')) as {
      hooks?: Record<string, Record<string, { run?: string }>>;
    };
    for (const hook of ['preprovision', 'postprovision']) {
      expect(Object.values(azureYaml.hooks?.[hook] ?? {}).map((h) => h.run)).toEqual([
        `node scripts/${hook}.mjs`,
        `node scripts/${hook}.mjs`,
      ]);
    }
  });

  it("the lease container is the app's own, with an honest throughput choice", () => {
    expect(literalString(mainParam('cosmosLeaseContainerName').lastNamedChild)).toBe('nostria-migrate-leases');
    expect(allowedValues(mainParam('cosmosLeaseThroughput'))).toEqual(['shared', 'dedicated']);
    const leases = bodyObject(resourceNamed('modules/cosmos-leases.bicep', 'leases'));
    const optionsOf = (throughputMode: string) =>
      evaluate(
        propertyPath(leases, 'properties.options')!,
        scopeOf('modules/cosmos-leases.bicep', { throughputMode, dedicatedThroughput: 1000 }),
      );
    expect(optionsOf('shared')).toEqual({});
    expect(optionsOf('dedicated')).toEqual({ throughput: 1000 });
  });
});

describe('the cloud the deployment runs in', () => {
  it("gives the host and the app storage endpoints with the cloud's own suffix, which the app's queue client uses", () => {
    const suffix = 'core.chinacloudapi.cn';
    const app = functionAppScope(
      { postgresEntraAdminName: 'operator@contoso.com' },
      { 'environment().suffixes.storage': suffix, 'storage.name': 'sttest' },
    );
    const settings = Object.fromEntries(
      appSettings()
        .filter((setting) => setting.name.startsWith('AzureWebJobsStorage__') && setting.name.endsWith('ServiceUri'))
        .map((setting) => [setting.name, evaluateString(setting.value, app)]),
    );
    expect(settings).toEqual({
      AzureWebJobsStorage__blobServiceUri: `https://sttest.blob.${suffix}`,
      AzureWebJobsStorage__queueServiceUri: `https://sttest.queue.${suffix}`,
      AzureWebJobsStorage__tableServiceUri: `https://sttest.table.${suffix}`,
    });
    // The app reads its queue where the template says, not at a public-cloud name built from the account.
    const config = loadConfig({ ...settings, AzureWebJobsStorage__credential: 'managedidentity', AzureWebJobsStorage__clientId: 'id' });
    expect(config.queue?.auth).toMatchObject({ kind: 'identity', serviceUri: `https://sttest.queue.${suffix}` });
    expect(appSettings().map((setting) => setting.name)).not.toContain('AzureWebJobsStorage__accountName');
  });
});

describe('a private endpoint to the existing Cosmos DB account', () => {
  const endpointFile = 'modules/private-endpoint.bicep';
  const network = (cosmosZone: boolean) => scopeOf('modules/network.bicep', { name: 'vnet-test', cosmosZone });

  it('is not there unless asked for, and never without private networking', () => {
    for (const [usePrivateNetworking, cosmosPrivateEndpoint] of [
      [false, 'none'],
      [false, 'approved'],
      [true, 'none'],
    ] as const) {
      expect(isDeployed(moduleNamed('cosmosEndpoint'), scopeOf('main.bicep', { usePrivateNetworking, cosmosPrivateEndpoint }))).toBe(false);
    }
    expect(evaluateDeclared('cosmosPrivateEndpoint', scopeOf('main.bicep'))).toBe('none');
  });

  it("asks the account's owner (group Sql), and leaves DNS alone until the connection is approved", () => {
    const requested = scopeOf('main.bicep', { usePrivateNetworking: true, cosmosPrivateEndpoint: 'requested' });
    expect(isDeployed(moduleNamed('cosmosEndpoint'), requested)).toBe(true);
    expect(evaluate(passedTo('cosmosEndpoint', 'groupId'), requested)).toBe('Sql');
    expect(evaluate(passedTo('cosmosEndpoint', 'manualApproval'), requested)).toBe(true);
    expect(passedTo('cosmosEndpoint', 'targetResourceId').text).toBe('cosmosLeases.outputs.accountId');
    // The network gets the Cosmos DB zone only once approved: a linked zone without the account's record would
    // make its name resolve to nothing.
    expect(evaluate(propertyValue(propertyValue(bodyObject(moduleNamed('network')), 'params'), 'cosmosZone')!, requested)).toBe(false);
    expect(evaluateDeclared('zoneNames', network(false))).not.toContain('privatelink.documents.azure.com');
    const approved = scopeOf('main.bicep', { usePrivateNetworking: true, cosmosPrivateEndpoint: 'approved' });
    expect(evaluate(propertyValue(propertyValue(bodyObject(moduleNamed('network')), 'params'), 'cosmosZone')!, approved)).toBe(true);
    expect(evaluateDeclared('zoneNames', network(true))).toEqual([
      'privatelink.postgres.database.azure.com',
      'privatelink.blob.core.windows.net',
      'privatelink.queue.core.windows.net',
      'privatelink.vaultcore.azure.net',
      'privatelink.documents.azure.com',
    ]);
    expect(evaluate(valueOfDeclared('modules/network.bicep', 'cosmosZoneId'), network(false))).toBe('');
    // The endpoint: a manual connection request, registered in the zone only when one is given.
    const endpoint = bodyObject(resourceNamed(endpointFile, 'endpoint'));
    const endpointScope = (privateDnsZoneId: string) =>
      scopeOf(endpointFile, {
        name: 'pe-cosmos-test',
        subnetId: '/subnets/pe',
        targetResourceId: '/accounts/nostria',
        groupId: 'Sql',
        manualApproval: true,
        privateDnsZoneId,
      });
    expect(evaluate(propertyPath(endpoint, 'properties.privateLinkServiceConnections')!, endpointScope(''))).toEqual([]);
    expect(evaluate(propertyPath(endpoint, 'properties.manualPrivateLinkServiceConnections')!, endpointScope(''))).toEqual([
      expect.objectContaining({ properties: expect.objectContaining({ privateLinkServiceId: '/accounts/nostria', groupIds: ['Sql'] }) }),
    ]);
    expect(isDeployed(resourceNamed(endpointFile, 'zoneGroup'), endpointScope(''))).toBe(false);
    expect(isDeployed(resourceNamed(endpointFile, 'zoneGroup'), endpointScope('/zones/documents'))).toBe(true);
    // The other endpoints are approved by the deployer's own rights, as before.
    const postgres = scopeOf(endpointFile, {
      name: 'pe',
      subnetId: '/s',
      targetResourceId: '/psql',
      groupId: 'postgresqlServer',
      privateDnsZoneId: '/z',
    });
    expect(evaluate(propertyPath(endpoint, 'properties.manualPrivateLinkServiceConnections')!, postgres)).toEqual([]);
  });
});

describe("the operator's Cosmos DB data role", () => {
  it('is Reader by default, Contributor when asked (migrate:pending-sync writes to Cosmos DB)', () => {
    const roleOf = (operatorCosmosDataRole?: string) =>
      evaluate(
        propertyValue(
          propertyValue(bodyObject(resourceOrModule('modules/rbac.bicep', 'operatorCosmosDataRoleAssignment')), 'params'),
          'roleDefinitionId',
        )!,
        scopeOf('modules/rbac.bicep', operatorCosmosDataRole ? { operatorCosmosDataRole } : {}),
      );
    expect(roleOf()).toBe('00000000-0000-0000-0000-000000000001');
    expect(roleOf('Contributor')).toBe('00000000-0000-0000-0000-000000000002');
    expect(passedTo('rbac', 'operatorCosmosDataRole').text).toBe('operatorCosmosDataRole');
  });
});

describe('the lease container throughput output', () => {
  it("does not read the database's options, which a GET may return empty", () => {
    const output = valueOfDeclared('modules/cosmos-leases.bicep', 'leaseThroughput');
    const used = new Set(
      [
        output,
        valueOfDeclared('modules/cosmos-leases.bicep', 'withoutOwnThroughput'),
        valueOfDeclared('modules/cosmos-leases.bicep', 'sharedThroughput'),
      ].map((node) => node.text),
    );
    expect([...used].join('\n')).not.toMatch(/database\.properties/);
    expect(fileNamed('modules/cosmos-leases.bicep').root.text).not.toMatch(/database\.properties/);
  });
});

describe('node version', () => {
  it('is 22 in Azure, stated once in the template and matched by package.json engines', () => {
    const runtime = propertyPath(bodyObject(resourceNamed(functionAppFile, 'site')), 'properties.functionAppConfig.runtime');
    expect(evaluate(runtime!, scopeOf(functionAppFile))).toEqual({ name: 'node', version: '22' });
    const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines?: { node?: string } };
    expect(packageJson.engines?.node).toBe('>=22');
  });
});

describe('azd wiring', () => {
  const mainParams = () => declarations(fileNamed('main.bicep').root, 'parameter_declaration');

  it('azure.yaml deploys the built package, built here, as the function app the template tags', () => {
    const azureYaml = parseYaml(readFileSync(join(repoRoot, 'azure.yaml'), 'utf8')) as {
      infra?: { provider?: string; path?: string; module?: string };
      services?: Record<string, { project?: string; language?: string; host?: string; dist?: string; remoteBuild?: boolean }>;
    };
    const infra = azureYaml.infra ?? {};
    expect(infra.provider ?? 'bicep').toBe('bicep');
    expect(bicep.has(`${infra.module ?? 'main'}.bicep`)).toBe(true);

    const services = Object.entries(azureYaml.services ?? {});
    expect(services).toHaveLength(1);
    const [serviceName, service] = services[0]!;
    expect(service).toMatchObject({ host: 'function', language: 'ts', project: '.', dist: defaultPackageDir, remoteBuild: false });
    const serviceParam = declarationNamed(fileNamed(functionAppFile).root, 'parameter_declaration', 'serviceName');
    expect(literalString(serviceParam.lastNamedChild)).toBe(serviceName);

    // azd runs `npm run build` and zips `dist`; the host loads `main` of the package's package.json.
    const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      main?: string;
      scripts?: Record<string, string>;
    };
    // The deployment package first; then the library entry (dist/lib), which leaves dist/app alone.
    expect(packageJson.scripts?.build).toBe('tsx scripts/build-package.ts && tsx scripts/build-library.ts');
    expect(packageJson.main).toBe(`${defaultPackageDir}/${packageMain}`);
    // azd refuses `remoteBuild: false` when the project's .funcignore excludes node_modules.
    const funcignore = readFileSync(join(repoRoot, '.funcignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    expect(funcignore.filter((entry) => /^\/?node_modules\/?$/.test(entry))).toEqual([]);
  });

  it('main.parameters.json maps only declared params and every required one', () => {
    const file = JSON.parse(readFileSync(join(infraDir, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const mapped = Object.keys(file.parameters);
    const declared = mainParams().map(declaredName);
    expect(mapped.filter((name) => !declared.includes(name))).toEqual([]);
    const required = mainParams()
      .filter((p) => !hasDefault(p))
      .map(declaredName);
    expect(required.filter((name) => !mapped.includes(name))).toEqual([]);
  });

  it('main.parameters.json uses azd ${VAR} / ${VAR=default} substitutions whose defaults the template allows', () => {
    const file = JSON.parse(readFileSync(join(infraDir, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    for (const [name, { value }] of Object.entries(file.parameters)) {
      expect(typeof value, name).toBe('string');
      const match = /^\$\{([A-Z][A-Z0-9_]*)(?:=([^}]*))?\}$/.exec(value as string);
      expect(match, `${name}: ${String(value)}`).not.toBeNull();
      const fallback = match?.[2];
      const allowed = allowedValues(declarationNamed(fileNamed('main.bicep').root, 'parameter_declaration', name));
      if (fallback !== undefined && allowed) expect(allowed, name).toContain(fallback);
    }
  });
});

describe('the operator workbook', () => {
  const monitoringFile = 'modules/monitoring.bicep';
  const componentId =
    '/subscriptions/00000000-0000-0000-0000-00000000bbbb/resourceGroups/rg-test/providers/Microsoft.Insights/components/appi-test';

  function workbookResource(): Node {
    const found = declarations(fileNamed(monitoringFile).root, 'resource_declaration').filter((resource) =>
      resourceType(resource).startsWith('Microsoft.Insights/workbooks@'),
    );
    expect(found).toHaveLength(1);
    return found[0] as Node;
  }

  it('is deployed with the app: a shared workbook of the Application Insights component, named by a stable GUID', () => {
    expect(isDeployed(moduleNamed('monitoring'), scopeOf('main.bicep'))).toBe(true);
    const workbook = workbookResource();
    expect(conditionOf(workbook)).toBeUndefined();
    const body = bodyObject(workbook);
    expect(literalString(propertyValue(body, 'kind'))).toBe('shared');
    expect(literalString(propertyPath(body, 'properties.category'))).toBe('workbook');
    expect(literalString(propertyPath(body, 'properties.displayName'))).toMatch(/\S/);
    expect(propertyPath(body, 'properties.sourceId')?.text).toBe('applicationInsights.id');
    // Workbook names must be GUIDs: one derived from the component, so a redeployment updates the same workbook.
    const name = propertyValue(body, 'name');
    expect(name?.type).toBe('call_expression');
    expect(name?.childForFieldName('function')?.text).toBe('guid');
    expect(name?.childForFieldName('arguments')?.text).toContain('applicationInsights.id');
  });

  it('deploys infra/workbook.json as it is, valid JSON that opens on the component, within the size loadTextContent reads', () => {
    const text = readFileSync(join(infraDir, 'workbook.json'), 'utf8');
    expect(text.length).toBeLessThanOrEqual(131_072);
    const scope = scopeOf(monitoringFile, {}, { 'applicationInsights.id': componentId });
    const serialized = evaluateString(propertyPath(bodyObject(workbookResource()), 'properties.serializedData') as Node, scope);
    const deployed = JSON.parse(serialized) as Record<string, unknown>;
    expect(deployed).toEqual({ ...(JSON.parse(text) as Record<string, unknown>), fallbackResourceIds: [componentId] });
    expect(deployed.version).toBe('Notebook/1.0');
  });
});

describe('API versions', () => {
  it('are exactly the ones docs/deploy.md lists as checked, none of them previews', () => {
    const used = new Set([...bicep.values()].flatMap((file) => declarations(file.root, 'resource_declaration').map(resourceType)));
    const documented = new Set(documentedApiVersions());
    expect([...used].sort()).toEqual([...documented].sort());
    expect([...used].filter((typeAndVersion) => typeAndVersion.includes('preview'))).toEqual([]);
  });
});

/** "type@version" for each row of the table under "## Resource types and API versions". */
function documentedApiVersions(): string[] {
  const doc = readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Resource types and API versions')) ?? '';
  return [...section.matchAll(/^\|\s*`([^`]+)`[^|]*\|\s*`([^`]+)`\s*\|/gm)].map((row) => `${row[1]}@${row[2]}`);
}
