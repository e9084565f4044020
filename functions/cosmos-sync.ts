import { app, CosmosDBv4ChangeFeedMode, type InvocationContext, type RetryOptions } from '@azure/functions';
import { type ChangeFeedMode, changeFeedModeFrom } from '../shared/config/change-feed-mode.js';
import { preferredLocationsFrom } from '../shared/config/env.js';
import { configuredSecrets } from '../shared/config/secrets.js';
import { AppError } from '../shared/core/errors.js';
import { safeErrorMessage } from '../shared/core/safe-error.js';
import { getServices } from '../shared/runtime/services.js';
import { enqueueMigrationMessages } from '../shared/storage-queue/send-messages.js';
import { type SyncOutcome, syncChangeBatch } from '../shared/sync/sync-change-batch.js';
import { syncTelemetry } from '../shared/sync/sync-telemetry.js';
import { emitTelemetry } from '../shared/telemetry/telemetry.js';

/**
 * Change-feed sync: every batch of changes to the Nostria container is applied to PostgreSQL through
 * the migration's write path (see `syncChangeBatch`). The trigger delivers at least once, orders only
 * within a partition key, and moves its checkpoint on even when this handler throws; so a failed write
 * is retried by the runtime's retry policy (below) while the batch is held, and on the last attempt the
 * batch's documents go to the migration queue for the queue function to re-read and apply. It runs in every
 * phase: the mirror's own copies (while PostgreSQL is primary) are recognised by their mark and never written.
 */

/** Read when the app loads: the mode is part of the trigger's binding. */
const mode: ChangeFeedMode = changeFeedModeFrom();

/** Up to ~2.5 minutes of PostgreSQL trouble is ridden out with the batch held (5 s, 10 s, ... 2 min). */
const syncRetry: RetryOptions = {
  strategy: 'exponentialBackoff',
  maxRetryCount: 5,
  minimumInterval: { seconds: 5 },
  maximumInterval: { minutes: 2 },
};

export async function cosmosSync(items: unknown[], context: InvocationContext): Promise<void> {
  const retry = context.retryContext;
  // No retry context means the runtime will not call again; -1 means it always will.
  const willRetry = retry !== undefined && (retry.maxRetryCount < 0 || retry.retryCount < retry.maxRetryCount);
  const services = getServices();
  let outcome: SyncOutcome;
  try {
    outcome = await syncChangeBatch(services, items, {
      mode,
      willRetry,
      enqueue: (messages) => enqueueMigrationMessages(services.config, messages),
    });
  } catch (error) {
    // Thrown while the runtime will call again with the batch (or when even the deferral failed): say why.
    const text = error instanceof AppError ? error.message : safeErrorMessage(error, configuredSecrets(services));
    context.error(`batch of ${items.length} change(s) not applied${willRetry ? ' (the runtime retries it)' : ''}: ${text}`);
    throw error;
  }
  emitTelemetry((line) => context.log(line), syncTelemetry(items.length, outcome, Date.now()));
  switch (outcome.kind) {
    case 'applied': {
      const line =
        `synced ${items.length} change(s): ${outcome.written} written, ${outcome.unchanged} unchanged, ` +
        `${outcome.quarantined} quarantined, ${outcome.failed} refused (quarantined), ${outcome.deleted} deleted, ` +
        `${outcome.echoes} mirror echo(es) (${outcome.confirmed} confirmed), ${outcome.diverged} diverged (kept)`;
      // A diverged version waits for an operator (npm run migrate:quarantine).
      if (outcome.diverged > 0) context.warn(line);
      else context.log(line);
      break;
    }
    case 'deferred': {
      const line =
        `the batch could not be applied on the last attempt; all ${outcome.documents} change(s) sent for resync ` +
        `in ${outcome.messages} queue message(s): ${outcome.reason}`;
      // A refused batch means a configuration or data problem an operator must fix; PostgreSQL down heals by itself.
      if (outcome.refused) context.error(line);
      else context.warn(line);
      break;
    }
  }
}

const binding = {
  connection: 'NOSTRIA_COSMOSDB',
  databaseName: '%AZURE_COSMOSDB_DATABASE_NAME%',
  containerName: '%AZURE_COSMOSDB_CONTAINER_NAME%',
  leaseContainerName: '%COSMOSDB_LEASE_CONTAINER_NAME%',
  // A prefix per deployment, so a developer's local run never takes a deployed app's leases; and per mode,
  // because the processor refuses leases written in the other mode and a switch must start fresh leases
  // (docs/deploy.md, "Switching the change-feed mode"). LatestVersion keeps the prefix it always had, so
  // deploying this never orphans a running deployment's checkpoints.
  leaseContainerPrefix: mode === 'LatestVersion' ? '%COSMOSDB_LEASE_PREFIX%' : `%COSMOSDB_LEASE_PREFIX%${mode}-`,
  // Read from the nearest regions of a multi-region account, in the order the setting lists them.
  ...(preferredLocationsFrom() ? { preferredLocations: '%COSMOSDB_PREFERRED_LOCATIONS%' } : {}),
  // Created by the infrastructure; the app's identity has no right to create containers.
  createLeaseContainerIfNotExists: false,
  retry: syncRetry,
  handler: cosmosSync,
};

if (mode === 'AllVersionsAndDeletes') {
  // Starting from the beginning is not supported in this mode (and the full migration covers history).
  app.cosmosDB('cosmosSync', { ...binding, changeFeedMode: CosmosDBv4ChangeFeedMode.AllVersionsAndDeletes });
} else {
  // The default mode, left unsaid so extension versions that predate the setting read the binding as
  // before. New changes only: history is the full migration's job.
  app.cosmosDB('cosmosSync', { ...binding, startFromBeginning: false });
}
