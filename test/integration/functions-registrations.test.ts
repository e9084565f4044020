import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { envSchema, loadConfig } from '../../shared/config/env.js';
import {
  type CapturedBinding,
  type CapturedRegistration,
  functionFiles,
  installFunctionsCore,
  loadFunctionApp,
  settingsReadByBindings,
} from '../support/functions-core/load-function-app.js';

/**
 * What each function file hands the Functions host, captured through the real @azure/functions library
 * (see test/support/functions-core): triggers, connections, containers, lease settings, retry policy,
 * queue names, routes, methods and auth levels; and whether those bindings, resolved with the settings a
 * local run uses (local.settings.sample.json), point at what the app's own configuration reads. That the
 * same settings are set in Azure is infra.test.ts's job; that package.json `main` loads every built
 * function file, deploy-package.test.ts's.
 */

const root = path.resolve(import.meta.dirname, '../..');
const readJson = (file: string) => JSON.parse(readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>;
const localValues = (readJson('local.settings.sample.json').Values ?? {}) as Record<string, string>;

let registrations: Map<string, CapturedRegistration>;
let byFile: Map<string, string[]>;

/** Nothing configured: loading the app must not need a setting, because it must not create a client. */
function clearConfiguration(): void {
  for (const name of Object.keys(envSchema.shape)) vi.stubEnv(name, undefined);
}

beforeAll(async () => {
  // Cold start: every client is created on first use, through getServices().
  clearConfiguration();
  try {
    ({ registrations, byFile } = await loadFunctionApp());
  } finally {
    vi.unstubAllEnvs();
  }
});

function triggerOf(registration: CapturedRegistration | undefined): CapturedBinding {
  if (!registration) throw new Error('function was not registered');
  const triggers = Object.values(registration.metadata.bindings).filter((binding) => binding.direction === 'in');
  expect(triggers).toHaveLength(1);
  return triggers[0] as CapturedBinding;
}

/** A binding value as the host resolves it: each %SETTING% replaced by its value; a missing setting fails. */
function resolved(value: unknown, settings: Record<string, string> = localValues): string {
  expect(typeof value).toBe('string');
  return (value as string).replace(/%([A-Za-z0-9_]+)%/g, (_, name: string) => {
    expect(settings, `binding setting ${name}`).toHaveProperty(name);
    return settings[name] as string;
  });
}

/** The sync function registered again, as the app loads it with `env` (a module evaluated afresh). */
async function cosmosSyncLoadedWith(env: Record<string, string>): Promise<CapturedBinding> {
  const core = installFunctionsCore();
  const file = functionFiles().find((candidate) => path.basename(candidate) === 'cosmos-sync.ts') as string;
  clearConfiguration();
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  const before = core.registrations.length;
  try {
    await import(pathToFileURL(file).href);
  } finally {
    vi.unstubAllEnvs();
  }
  const added = core.registrations.slice(before);
  expect(added.map((registration) => registration.metadata.name)).toEqual(['cosmosSync']);
  return triggerOf(added[0]);
}

test('every function file registers exactly the functions it is named for, and nothing else registers', () => {
  expect(Object.fromEntries(byFile)).toEqual({
    'backlog-telemetry.ts': ['backlogTelemetry'],
    'cosmos-sync.ts': ['cosmosSync'],
    'health.ts': ['health'],
    'migration-queue.ts': ['migrationQueue'],
    'migration-quarantine.ts': ['migrationQuarantine'],
    'migration-quarantine-entry.ts': ['migrationQuarantineEntry'],
    'migration-reconcile.ts': ['migrationReconcile'],
    'migration-run.ts': ['migrationRun'],
    'migration-start.ts': ['migrationStart'],
    'migration-stats.ts': ['migrationStats'],
    'migration-switch.ts': ['migrationSwitch'],
    'migration-verify.ts': ['migrationVerify'],
  });
  for (const registration of registrations.values()) expect(typeof registration.callback).toBe('function');
});

describe('the change-feed sync', () => {
  test('watches the container the app reads and writes, through the connection local settings and infra set', () => {
    const trigger = triggerOf(registrations.get('cosmosSync'));
    expect(trigger).toMatchObject({ type: 'cosmosDBTrigger', direction: 'in' });
    const config = loadConfig(localValues);
    expect(resolved(trigger.databaseName)).toBe(config.cosmos?.databaseName);
    expect(resolved(trigger.containerName)).toBe(config.cosmos?.containerName);
    // The trigger's connection: locally the same account the SDK reaches by connection string.
    expect(localValues[trigger.connection as string]).toBe(localValues.AZURE_COSMOSDB_CONNECTION_STRING);
  });

  test('keeps its leases in the lease container the infrastructure creates, and never creates one', () => {
    const trigger = triggerOf(registrations.get('cosmosSync'));
    expect(resolved(trigger.leaseContainerName)).toBe(localValues.COSMOSDB_LEASE_CONTAINER_NAME);
    expect(trigger.createLeaseContainerIfNotExists).toBe(false);
  });

  test("LatestVersion: the deployment's own lease prefix, new changes only, the mode left unsaid", () => {
    const trigger = triggerOf(registrations.get('cosmosSync'));
    expect(resolved(trigger.leaseContainerPrefix)).toBe(localValues.COSMOSDB_LEASE_PREFIX);
    expect(trigger.startFromBeginning).toBe(false);
    expect(trigger).not.toHaveProperty('changeFeedMode');
    // No preferred regions configured: none in the binding, so the host reads from the default region.
    expect(trigger).not.toHaveProperty('preferredLocations');
  });

  test('AllVersionsAndDeletes: leases of its own, so switching modes starts fresh ones', async () => {
    const trigger = await cosmosSyncLoadedWith({ COSMOSDB_CHANGE_FEED_MODE: 'AllVersionsAndDeletes' });
    expect(trigger.changeFeedMode).toBe('AllVersionsAndDeletes');
    expect(trigger).not.toHaveProperty('startFromBeginning');
    const latest = resolved(triggerOf(registrations.get('cosmosSync')).leaseContainerPrefix);
    const all = resolved(trigger.leaseContainerPrefix);
    expect(all).not.toBe(latest);
    expect(all.startsWith(localValues.COSMOSDB_LEASE_PREFIX as string)).toBe(true);
    expect(all).toContain('AllVersionsAndDeletes');
  });

  test('reads from the preferred regions the SDK client uses, when they are set', async () => {
    const regions = 'Sweden Central,West Europe';
    const trigger = await cosmosSyncLoadedWith({ COSMOSDB_PREFERRED_LOCATIONS: regions });
    const settings = { ...localValues, COSMOSDB_PREFERRED_LOCATIONS: regions };
    expect(resolved(trigger.preferredLocations, settings)).toBe(regions);
    expect(loadConfig(settings).cosmos?.preferredLocations).toEqual(resolved(trigger.preferredLocations, settings).split(','));
  });

  test("holds a failing batch with the runtime's retries, and writes nothing through output bindings", () => {
    expect(registrations.get('cosmosSync')?.metadata.retryOptions).toMatchObject({
      retryStrategy: 'exponentialBackoff',
      maxRetryCount: 5,
      minimumInterval: { seconds: 5 },
      maximumInterval: { seconds: 120 },
    });
    expect(
      Object.values(registrations.get('cosmosSync')?.metadata.bindings ?? {}).filter((binding) => binding.direction === 'out'),
    ).toEqual([]);
  });
});

test('the migration queue: the queue and storage the app itself sends to', () => {
  const trigger = triggerOf(registrations.get('migrationQueue'));
  expect(trigger).toMatchObject({ type: 'queueTrigger', direction: 'in' });
  const queue = loadConfig(localValues).queue;
  expect(resolved(trigger.queueName)).toBe(queue?.name);
  // The trigger's connection is the host storage the app's queue client uses (locally Azurite's connection string).
  expect(queue?.auth).toEqual({ kind: 'connectionString', connectionString: localValues[trigger.connection as string] });
  expect(registrations.get('migrationQueue')?.metadata.retryOptions).toBeUndefined();
});

test('the backlog telemetry: a timer every five minutes, as the workbook bins the sizes, with no output', () => {
  const trigger = triggerOf(registrations.get('backlogTelemetry'));
  expect(trigger).toMatchObject({ type: 'timerTrigger', direction: 'in', schedule: '0 */5 * * * *' });
  expect(trigger).not.toHaveProperty('runOnStartup');
  expect(
    Object.values(registrations.get('backlogTelemetry')?.metadata.bindings ?? {}).filter((binding) => binding.direction === 'out'),
  ).toEqual([]);
});

describe('HTTP functions', () => {
  test.each([
    ['health', 'GET', 'health'],
    ['migrationStats', 'GET', 'migration/stats'],
    ['migrationVerify', 'GET', 'migration/verify/{pubkey}'],
    ['migrationStart', 'POST', 'migration/start'],
    ['migrationReconcile', 'POST', 'migration/reconcile'],
    ['migrationSwitch', 'POST', 'migration/switch'],
    ['migrationRun', 'GET', 'migration/runs/{runId}'],
    ['migrationQuarantine', 'GET', 'migration/quarantine'],
    // A catch-all parameter: a quarantine key holds a `/` between its pubkey and its id.
    ['migrationQuarantineEntry', 'GET', 'migration/quarantine/{*key}'],
  ])('%s: %s /api/%s with a function key, answering over the HTTP output', (name, method, route) => {
    expect(triggerOf(registrations.get(name))).toMatchObject({
      type: 'httpTrigger',
      direction: 'in',
      methods: [method],
      route,
      authLevel: 'function',
    });
    const outputs = Object.values(registrations.get(name)?.metadata.bindings ?? {}).filter((binding) => binding.direction === 'out');
    expect(outputs).toEqual([expect.objectContaining({ type: 'http' })]);
  });
});

test('host.json: bundle 4.x, queue retries end in the poison queue, plain-JSON messages', () => {
  const host = readJson('host.json');
  expect(host.version).toBe('2.0');
  expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  const queues = (host.extensions as { queues: Record<string, unknown> }).queues;
  expect(queues).toMatchObject({ maxDequeueCount: 5, messageEncoding: 'none' });
  for (const setting of ['batchSize', 'newBatchThreshold', 'visibilityTimeout']) expect(queues).toHaveProperty(setting);
  expect(host.functionTimeout).toMatch(/^\d\d:\d\d:\d\d$/);
});

test('local.settings.sample.json lists every setting the functions and the configuration read, with local values only', () => {
  const bindings = settingsReadByBindings(registrations.values());
  const required = [...Object.keys(envSchema.shape), ...bindings.connections, ...bindings.settings, 'FUNCTIONS_WORKER_RUNTIME'];
  expect(required.filter((name) => !(name in localValues))).toEqual([]);
  expect(localValues.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
  expect(localValues.FUNCTIONS_WORKER_RUNTIME).toBe('node');
  // Local endpoints only: nothing here reaches a real account or server.
  for (const [name, value] of Object.entries(localValues)) {
    for (const host of value.matchAll(/(?:https?|postgres(?:ql)?):\/\/(?:[^@/]*@)?([^:/;]+)/g)) {
      expect([name, host[1]]).toEqual([name, expect.stringMatching(/^(localhost|127\.0\.0\.1)$/)]);
    }
  }
});
