import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { envSchema } from '../../shared/config/env.js';
import { type CapturedBinding, type CapturedRegistration, loadFunctionApp } from '../support/functions-core/load-function-app.js';

/**
 * What each function file hands the Functions host, captured through the real @azure/functions library
 * (see test/support/functions-core): trigger types, names, connections, containers, lease settings,
 * retry policy, queue names, routes, methods and auth levels. Plus the files the host reads alongside:
 * host.json, local.settings.sample.json and package.json `main`.
 */

const root = path.resolve(import.meta.dirname, '../..');
const readJson = (file: string) => JSON.parse(readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>;

let registrations: Map<string, CapturedRegistration>;
let byFile: Map<string, string[]>;

beforeAll(async () => {
  // Nothing configured: loading the app must not need a setting, because it must not create a client
  // (cold start; every client is created on first use, through getServices()).
  for (const name of Object.keys(envSchema.shape)) vi.stubEnv(name, undefined);
  try {
    ({ registrations, byFile } = await loadFunctionApp());
  } finally {
    vi.unstubAllEnvs();
  }
});

function triggerOf(name: string): CapturedBinding {
  const registration = registrations.get(name);
  if (!registration) throw new Error(`function ${name} was not registered`);
  const triggers = Object.values(registration.metadata.bindings).filter((binding) => binding.direction === 'in');
  expect(triggers).toHaveLength(1);
  return triggers[0] as CapturedBinding;
}

test('every function file registers exactly the functions it is named for, and nothing else registers', () => {
  expect(Object.fromEntries(byFile)).toEqual({
    'cosmos-sync.ts': ['cosmosSync'],
    'health.ts': ['health'],
    'migration-queue.ts': ['migrationQueue'],
    'migration-run.ts': ['migrationRun'],
    'migration-start.ts': ['migrationStart'],
    'migration-stats.ts': ['migrationStats'],
    'migration-verify.ts': ['migrationVerify'],
  });
  for (const registration of registrations.values()) expect(typeof registration.callback).toBe('function');
});

test('the change-feed sync: Cosmos DB trigger on the configured container, own lease prefix, runtime retries', () => {
  const trigger = triggerOf('cosmosSync');
  expect(trigger).toMatchObject({
    type: 'cosmosDBTrigger',
    direction: 'in',
    connection: 'NOSTRIA_COSMOSDB',
    databaseName: '%AZURE_COSMOSDB_DATABASE_NAME%',
    containerName: '%AZURE_COSMOSDB_CONTAINER_NAME%',
    leaseContainerName: '%COSMOSDB_LEASE_CONTAINER_NAME%',
    leaseContainerPrefix: '%COSMOSDB_LEASE_PREFIX%',
    createLeaseContainerIfNotExists: false,
    startFromBeginning: false,
  });
  // Latest-version mode is the default and is left out of the binding.
  expect(trigger).not.toHaveProperty('changeFeedMode');
  const retry = registrations.get('cosmosSync')?.metadata.retryOptions;
  expect(retry).toMatchObject({
    retryStrategy: 'exponentialBackoff',
    maxRetryCount: 5,
    minimumInterval: { seconds: 5 },
    maximumInterval: { seconds: 120 },
  });
  // No output bindings: the handler writes PostgreSQL and the queue itself.
  expect(Object.values(registrations.get('cosmosSync')?.metadata.bindings ?? {}).filter((binding) => binding.direction === 'out')).toEqual(
    [],
  );
});

test('the migration queue: storage queue trigger on the host storage and the configured queue', () => {
  expect(triggerOf('migrationQueue')).toMatchObject({
    type: 'queueTrigger',
    direction: 'in',
    queueName: '%MIGRATION_QUEUE_NAME%',
    connection: 'AzureWebJobsStorage',
  });
  expect(registrations.get('migrationQueue')?.metadata.retryOptions).toBeUndefined();
});

describe('HTTP functions', () => {
  test.each([
    ['health', 'GET', 'health'],
    ['migrationStats', 'GET', 'migration/stats'],
    ['migrationVerify', 'GET', 'migration/verify/{pubkey}'],
    ['migrationStart', 'POST', 'migration/start'],
    ['migrationRun', 'GET', 'migration/runs/{runId}'],
  ])('%s: %s /api/%s with a function key, answering over the HTTP output', (name, method, route) => {
    expect(triggerOf(name)).toMatchObject({ type: 'httpTrigger', direction: 'in', methods: [method], route, authLevel: 'function' });
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
  const values = (readJson('local.settings.sample.json').Values ?? {}) as Record<string, string>;
  const bindingSettings = new Set<string>();
  for (const registration of registrations.values()) {
    for (const binding of Object.values(registration.metadata.bindings)) {
      if (typeof binding.connection === 'string') bindingSettings.add(binding.connection);
      for (const value of Object.values(binding)) {
        for (const match of String(value).matchAll(/%([A-Za-z0-9_]+)%/g)) bindingSettings.add(match[1] as string);
      }
    }
  }
  const required = [...Object.keys(envSchema.shape), ...bindingSettings, 'FUNCTIONS_WORKER_RUNTIME'];
  expect(required.filter((name) => !(name in values))).toEqual([]);
  expect(values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
  expect(values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
  // Local endpoints only: nothing here reaches a real account or server.
  for (const [name, value] of Object.entries(values)) {
    for (const host of value.matchAll(/(?:https?|postgres(?:ql)?):\/\/(?:[^@/]*@)?([^:/;]+)/g)) {
      expect([name, host[1]]).toEqual([name, expect.stringMatching(/^(localhost|127\.0\.0\.1)$/)]);
    }
  }
});

test('package.json "main" loads every compiled function file', () => {
  expect(readJson('package.json').main).toBe('dist/functions/*.js');
  expect((readJson('package.json').scripts as Record<string, string>)['migrate:poison']).toBe('tsx cli/poison.ts');
});
