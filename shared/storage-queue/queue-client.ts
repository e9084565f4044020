import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { azureCredential } from '../config/azure-credential.js';
import type { QueueSettings } from '../config/env.js';

/** The Functions runtime moves a message that failed `maxDequeueCount` times to `<queue>-poison`. */
const poisonQueueSuffix = '-poison';

export interface MigrationQueues {
  main: QueueClient;
  poison: QueueClient;
  /**
   * Creates both queues if missing, once per process. Only with a connection string (Azurite, local
   * runs): in Azure the infrastructure creates them and the app's identity has no right to.
   */
  ensureExist(): Promise<void>;
}

const clients = new WeakMap<QueueSettings, MigrationQueues>();

/**
 * The migration queue and its poison queue for these settings, created on first use and reused for
 * the life of the process (a queue client holds an HTTP pipeline and, by identity, a token cache).
 */
export function migrationQueues(settings: QueueSettings): MigrationQueues {
  let queues = clients.get(settings);
  if (!queues) {
    queues = createQueues(settings);
    clients.set(settings, queues);
  }
  return queues;
}

function createQueues(settings: QueueSettings): MigrationQueues {
  const service =
    settings.auth.kind === 'connectionString'
      ? QueueServiceClient.fromConnectionString(settings.auth.connectionString)
      : // The host's own identity (AzureWebJobsStorage__clientId), asked directly: see azure-credential.ts.
        new QueueServiceClient(settings.auth.serviceUri, azureCredential(settings.auth.clientId));
  const main = service.getQueueClient(settings.name);
  const poison = service.getQueueClient(`${settings.name}${poisonQueueSuffix}`);
  let created: Promise<void> | undefined;
  return {
    main,
    poison,
    ensureExist: () => {
      if (settings.auth.kind !== 'connectionString') return Promise.resolve();
      created ??= Promise.all([main.createIfNotExists(), poison.createIfNotExists()]).then(
        () => undefined,
        (error: unknown) => {
          // Let the next caller try again rather than remember a passing failure for the process's life.
          created = undefined;
          throw error;
        },
      );
      return created;
    },
  };
}
