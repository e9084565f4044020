import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azdSettings, readParameterMappings } from '../../scripts/azd-hooks.mjs';
import { postprovision } from '../../scripts/postprovision.mjs';
import { azureProblems, readMaxConnectionsBySku, settingProblems } from '../../scripts/preprovision.mjs';
import { repoRoot } from '../support/infra-fixture.js';

/*
 * The azd hooks (azure.yaml). Each check is tested on the values it judges; the Azure CLI is a stand-in: a
 * pure function for the checks, and for the hooks as azd runs them, an `az` executable first on PATH that
 * records its arguments and answers as the real one would (its JSON output, or an error and a non-zero exit).
 * Nothing here reaches Azure.
 */

/** azd's values for a first `azd up` as docs/deploy.md, section 1, sets them; the rest from main.parameters.json. */
function settings(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...azdSettings(
      {
        COSMOS_ACCOUNT_NAME: 'nostria-cosmos',
        COSMOS_RESOURCE_GROUP: 'rg-nostria-cosmos',
        POSTGRES_ENTRA_ADMIN_NAME: 'operator@contoso.com',
      },
      readParameterMappings(),
    ),
    AZURE_ENV_NAME: 'nostria-prod',
    AZURE_LOCATION: 'swedencentral',
    ...overrides,
  };
}

const maxConnectionsBySku = readMaxConnectionsBySku();

/** An Azure CLI answering from `answers` by command (the words before the first option). */
function fakeAz(answers: Record<string, unknown>): { az: (args: string[]) => unknown; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    az: (args) => {
      calls.push(args);
      const command = args
        .slice(
          0,
          args.findIndex((arg) => arg.startsWith('--')),
        )
        .join(' ');
      if (!(command in answers)) throw new Error(`unexpected az ${command}`);
      const answer = answers[command];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

const nothingInTheWay = { 'keyvault list-deleted': [], 'provider show': { registrationState: 'Registered' } };

describe('preprovision: what the azd values alone rule out', () => {
  it('passes the defaults of a first azd up', () => {
    expect(settingProblems(settings(), maxConnectionsBySku)).toEqual([]);
  });

  it('reads every value it judges from main.parameters.json, with its default', () => {
    const variables = [...readParameterMappings().values()].map((mapping) => mapping.variable);
    for (const variable of [
      'COSMOS_ACCOUNT_NAME',
      'COSMOS_RESOURCE_GROUP',
      'POSTGRES_ENTRA_ADMIN_NAME',
      'USE_PRIVATE_NETWORKING',
      'COSMOS_PRIVATE_ENDPOINT',
      'COSMOSDB_CHANGE_FEED_MODE',
      'POSTGRES_SKU_TIER',
      'POSTGRES_SKU_NAME',
      'POSTGRES_MAX_CONNECTIONS',
      'MAXIMUM_INSTANCE_COUNT',
      'DATABASE_POOL_SIZE',
    ]) {
      expect(variables).toContain(variable);
    }
    expect(settings()).toMatchObject({ DATABASE_POOL_SIZE: '5', MAXIMUM_INSTANCE_COUNT: '40', POSTGRES_SKU_NAME: 'Standard_D2ds_v5' });
  });

  it('names each required value that is missing, and how to set it', () => {
    const problems = settingProblems(
      settings({ COSMOS_ACCOUNT_NAME: '', COSMOS_RESOURCE_GROUP: '', POSTGRES_ENTRA_ADMIN_NAME: '' }),
      maxConnectionsBySku,
    );
    expect(problems).toEqual([
      expect.stringContaining('azd env set COSMOS_ACCOUNT_NAME'),
      expect.stringContaining('azd env set COSMOS_RESOURCE_GROUP'),
      expect.stringContaining('azd env set POSTGRES_ENTRA_ADMIN_NAME'),
    ]);
  });

  it('refuses a Cosmos DB private endpoint without private networking', () => {
    expect(settingProblems(settings({ COSMOS_PRIVATE_ENDPOINT: 'requested' }), maxConnectionsBySku)).toEqual([
      expect.stringContaining('needs USE_PRIVATE_NETWORKING=true'),
    ]);
    expect(
      settingProblems(settings({ COSMOS_PRIVATE_ENDPOINT: 'requested', USE_PRIVATE_NETWORKING: 'true' }), maxConnectionsBySku),
    ).toEqual([]);
  });

  it('refuses AllVersionsAndDeletes until the Preview bundle is accepted after a trial', () => {
    expect(settingProblems(settings({ COSMOSDB_CHANGE_FEED_MODE: 'AllVersionsAndDeletes' }), maxConnectionsBySku)).toEqual([
      expect.stringContaining('Prove it on a non-production app first'),
    ]);
    expect(
      settingProblems(
        settings({ COSMOSDB_CHANGE_FEED_MODE: 'AllVersionsAndDeletes', COSMOSDB_PREVIEW_BUNDLE_ACCEPTED: 'true' }),
        maxConnectionsBySku,
      ),
    ).toEqual([]);
  });

  it('refuses a PostgreSQL size whose max_connections it does not know, unless it is given', () => {
    expect(settingProblems(settings({ POSTGRES_SKU_NAME: 'Standard_D2ds_v9' }), maxConnectionsBySku)).toEqual([
      expect.stringContaining('azd env set POSTGRES_MAX_CONNECTIONS'),
    ]);
    expect(
      settingProblems(settings({ POSTGRES_SKU_NAME: 'Standard_D2ds_v9', POSTGRES_MAX_CONNECTIONS: '859' }), maxConnectionsBySku),
    ).toEqual([]);
  });

  it('refuses a connection budget the server cannot take, naming the pool size that fits', () => {
    // Burstable B2s: 429 max_connections, 414 for users, no PgBouncer; 4 × 40 × 5 = 800.
    const burstable = { POSTGRES_SKU_TIER: 'Burstable', POSTGRES_SKU_NAME: 'Standard_B2s' };
    expect(settingProblems(settings(burstable), maxConnectionsBySku)).toEqual([
      expect.stringMatching(
        /4 scale groups × 40 instances × 5 connections = 800 .* 414 user connections .* azd env set DATABASE_POOL_SIZE 2/,
      ),
    ]);
    expect(settingProblems(settings({ ...burstable, DATABASE_POOL_SIZE: '2' }), maxConnectionsBySku)).toEqual([]);
    // Through PgBouncer the limit is its max_client_conn, 5,000: 4 × 1000 × 5 is far beyond it.
    expect(settingProblems(settings({ MAXIMUM_INSTANCE_COUNT: '1000' }), maxConnectionsBySku)).toEqual([
      expect.stringContaining("PgBouncer's max_client_conn 5000: azd env set DATABASE_POOL_SIZE 1"),
    ]);
  });
});

describe('preprovision: what the Azure CLI finds in the way', () => {
  it('asks for nothing it does not need with the defaults but soft-deleted vaults', () => {
    const { az, calls } = fakeAz(nothingInTheWay);
    expect(azureProblems(settings(), az)).toEqual([]);
    expect(calls.map((call) => call.slice(0, 2).join(' '))).toEqual(['keyvault list-deleted']);
  });

  it('refuses private networking while the Microsoft.App provider is not registered', () => {
    const unregistered = fakeAz({ ...nothingInTheWay, 'provider show': { registrationState: 'NotRegistered' } });
    expect(azureProblems(settings({ USE_PRIVATE_NETWORKING: 'true' }), unregistered.az)).toEqual([
      expect.stringContaining('az provider register --namespace Microsoft.App --wait'),
    ]);
    expect(unregistered.calls[0]).toEqual(['provider', 'show', '--namespace', 'Microsoft.App']);
    expect(azureProblems(settings({ USE_PRIVATE_NETWORKING: 'true' }), fakeAz(nothingInTheWay).az)).toEqual([]);
  });

  it('refuses AllVersionsAndDeletes on an account without continuous backup', () => {
    const avad = settings({ COSMOSDB_CHANGE_FEED_MODE: 'AllVersionsAndDeletes', COSMOSDB_PREVIEW_BUNDLE_ACCEPTED: 'true' });
    const periodic = fakeAz({ ...nothingInTheWay, 'cosmosdb show': { backupPolicy: { type: 'Periodic' } } });
    expect(azureProblems(avad, periodic.az)).toEqual([expect.stringContaining('needs continuous backup')]);
    expect(periodic.calls).toContainEqual(['cosmosdb', 'show', '--name', 'nostria-cosmos', '--resource-group', 'rg-nostria-cosmos']);
    expect(azureProblems(avad, fakeAz({ ...nothingInTheWay, 'cosmosdb show': { backupPolicy: { type: 'Continuous' } } }).az)).toEqual([]);
  });

  it("refuses while this environment's Key Vault is soft-deleted in the region, and says how to purge it", () => {
    const vault = (name: string, env: string, location: string, purgeProtectionEnabled = false) => ({
      name,
      properties: { location, tags: { 'azd-env-name': env }, scheduledPurgeDate: '2026-12-15T00:00:00Z', purgeProtectionEnabled },
    });
    const deleted = fakeAz({
      'keyvault list-deleted': [
        vault('kv-abc', 'nostria-prod', 'swedencentral'),
        vault('kv-other', 'nostria-test', 'swedencentral'),
        vault('kv-far', 'nostria-prod', 'westeurope'),
      ],
    });
    expect(azureProblems(settings(), deleted.az)).toEqual([
      expect.stringContaining('az keyvault purge --name kv-abc --location swedencentral'),
    ]);
    const protectedVault = fakeAz({ 'keyvault list-deleted': [vault('kv-abc', 'nostria-prod', 'swedencentral', true)] });
    expect(azureProblems(settings(), protectedVault.az)).toEqual([expect.stringContaining('Use another environment name')]);
  });
});

describe('postprovision', () => {
  const rules = [{ name: 'AllowAllAzureServicesAndResourcesWithinAzureIps' }, { name: 'AllowOperatorClient' }, { name: 'operator' }];
  const outputs = { AZURE_RESOURCE_GROUP: 'rg-nostria-prod', POSTGRES_SERVER_NAME: 'psql-test', COSMOS_PRIVATE_ENDPOINT_NAME: '' };

  it("removes the public deployment's firewall rules once private networking is on, and leaves the operator's own", () => {
    const { az, calls } = fakeAz({
      'postgres flexible-server firewall-rule list': rules,
      'postgres flexible-server firewall-rule delete': null,
    });
    const { notes, failures } = postprovision(settings({ USE_PRIVATE_NETWORKING: 'true', ...outputs }), az);
    expect(failures).toEqual([]);
    expect(calls.filter((call) => call.includes('delete')).map((call) => call[call.indexOf('--rule-name') + 1])).toEqual([
      'AllowAllAzureServicesAndResourcesWithinAzureIps',
      'AllowOperatorClient',
    ]);
    expect(notes).toEqual(expect.arrayContaining([expect.stringContaining('operator (not the template')]));
    // Public networking keeps them, and asks nothing.
    const untouched = fakeAz({});
    expect(postprovision(settings(outputs), untouched.az)).toEqual({ notes: [], failures: [] });
    expect(untouched.calls).toEqual([]);
  });

  it('says how to lift the lock when a rule cannot be removed', () => {
    const locked = fakeAz({
      'postgres flexible-server firewall-rule list': rules.slice(0, 1),
      'postgres flexible-server firewall-rule delete': new Error('ScopeLocked'),
    });
    const { failures } = postprovision(settings({ USE_PRIVATE_NETWORKING: 'true', ...outputs }), locked.az);
    expect(failures).toEqual([expect.stringContaining('remove the lock')]);
  });

  it('says when the private endpoint to Cosmos DB awaits its owner, and when to route through it', () => {
    const state = (status: string) => ({ manualPrivateLinkServiceConnections: [{ privateLinkServiceConnectionState: { status } }] });
    const requested = {
      USE_PRIVATE_NETWORKING: 'true',
      COSMOS_PRIVATE_ENDPOINT: 'requested',
      ...outputs,
      COSMOS_PRIVATE_ENDPOINT_NAME: 'pe-cosmos-test',
    };
    const answers = (status: string) => ({
      'postgres flexible-server firewall-rule list': [],
      'network private-endpoint show': state(status),
    });
    expect(postprovision(settings(requested), fakeAz(answers('Pending')).az).notes).toEqual([
      expect.stringContaining('is Pending: its owner approves it'),
    ]);
    expect(postprovision(settings(requested), fakeAz(answers('Approved')).az).notes).toEqual([
      expect.stringContaining('azd env set COSMOS_PRIVATE_ENDPOINT approved'),
    ]);
  });
});

describe('the hooks as azd runs them', () => {
  let bin: string;
  let log: string;

  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), 'fake-az-'));
    log = join(bin, 'calls.log');
    // A stand-in `az`: records its arguments, answers by command from FAKE_AZ_ANSWERS.
    writeFileSync(
      join(bin, 'az'),
      [
        '#!/usr/bin/env node',
        "const fs = require('node:fs');",
        'const args = process.argv.slice(2);',
        "fs.appendFileSync(process.env.FAKE_AZ_LOG, JSON.stringify(args) + '\\n');",
        "const end = args.findIndex((arg) => arg.startsWith('--'));",
        "const command = args.slice(0, end < 0 ? args.length : end).join(' ');",
        'const answers = JSON.parse(process.env.FAKE_AZ_ANSWERS);',
        "if (!(command in answers)) { process.stderr.write('ERROR: unexpected az ' + command); process.exit(2); }",
        'process.stdout.write(JSON.stringify(answers[command]));',
      ].join('\n'),
    );
    chmodSync(join(bin, 'az'), 0o755);
  });
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  function runHook(hook: string, env: Record<string, string>, answers: Record<string, unknown>) {
    writeFileSync(log, '');
    const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', `${hook}.mjs`)], {
      encoding: 'utf8',
      env: {
        PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
        HOME: bin,
        FAKE_AZ_LOG: log,
        FAKE_AZ_ANSWERS: JSON.stringify(answers),
        AZURE_ENV_NAME: 'nostria-prod',
        AZURE_LOCATION: 'swedencentral',
        COSMOS_ACCOUNT_NAME: 'nostria-cosmos',
        COSMOS_RESOURCE_GROUP: 'rg-nostria-cosmos',
        POSTGRES_ENTRA_ADMIN_NAME: 'operator@contoso.com',
        ...env,
      },
    });
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[]);
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  }

  it("preprovision passes, and points every az call at azd's subscription", () => {
    const subscription = '11111111-2222-3333-4444-555555555555';
    const run = runHook('preprovision', { AZURE_SUBSCRIPTION_ID: subscription, USE_PRIVATE_NETWORKING: 'true' }, nothingInTheWay);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`checks passed on subscription ${subscription}`);
    expect(run.calls.length).toBe(2);
    for (const call of run.calls) expect(call.slice(-2)).toEqual(['--subscription', subscription]);
  });

  it('preprovision refuses with the reason and exit status 1', () => {
    const run = runHook(
      'preprovision',
      { AZURE_SUBSCRIPTION_ID: 'sub', USE_PRIVATE_NETWORKING: 'true', POSTGRES_SKU_TIER: 'Burstable', POSTGRES_SKU_NAME: 'Standard_B2s' },
      { ...nothingInTheWay, 'provider show': { registrationState: 'NotRegistered' } },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('preprovision: The Microsoft.App resource provider is NotRegistered');
    expect(run.stderr).toContain('azd env set DATABASE_POOL_SIZE 2');
  });

  it("preprovision says when azd's subscription is not known yet, and uses az's default", () => {
    const run = runHook('preprovision', {}, nothingInTheWay);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('AZURE_SUBSCRIPTION_ID is not set yet');
    for (const call of run.calls) expect(call).not.toContain('--subscription');
  });

  it('preprovision fails, saying why, when az itself fails', () => {
    const run = runHook('preprovision', { AZURE_SUBSCRIPTION_ID: 'sub' }, {});
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('az keyvault list-deleted failed: ERROR: unexpected az keyvault list-deleted');
  });

  it('postprovision removes the public firewall rules on the same subscription', () => {
    const run = runHook(
      'postprovision',
      { AZURE_SUBSCRIPTION_ID: 'sub', USE_PRIVATE_NETWORKING: 'true', AZURE_RESOURCE_GROUP: 'rg', POSTGRES_SERVER_NAME: 'psql-test' },
      {
        'postgres flexible-server firewall-rule list': [{ name: 'AllowAllAzureServicesAndResourcesWithinAzureIps' }],
        'postgres flexible-server firewall-rule delete': null,
      },
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Removed PostgreSQL firewall rule AllowAllAzureServicesAndResourcesWithinAzureIps');
    expect(run.calls.map((call) => call.slice(-2))).toEqual([
      ['--subscription', 'sub'],
      ['--subscription', 'sub'],
    ]);
  });
});
