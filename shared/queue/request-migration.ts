import { randomUUID } from 'node:crypto';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { fullLoadScope } from '../migration/migrate-type.js';
import { assertMayMigrate } from '../migration/migration-mode.js';
import type { MigrationRequest } from '../migration/run-request.js';
import { createRun, finishRun, type RunKind, type RunScope } from '../migration/runs.js';
import type { MigrationMessageInput } from '../storage-queue/messages.js';
import type { SentMessage } from '../storage-queue/send-messages.js';

export interface RequestedMigration {
  runId: string;
  dryRun: boolean;
  /** Whether the run is in `migration_runs` (dry runs are not recorded: their outcome is in the logs). */
  recorded: boolean;
}

/**
 * Records a run and puts its first message on the migration queue; the queue function does the work.
 * A full run becomes a `full` message (fanned out into one chain of pages per feed range), a per-type
 * run the same, its chains keeping the type, a per-user run a `user` message.
 * Refuses a run that would write unless MIGRATION_MODE=true (`MigrationModeDisabledError`). If the message
 * cannot be sent, the run is marked failed with the reason.
 */
export async function requestMigration(
  services: AppContext,
  request: MigrationRequest,
  enqueue: (messages: readonly MigrationMessageInput[]) => Promise<SentMessage[]>,
): Promise<RequestedMigration> {
  assertMayMigrate(services.config, request.dryRun);
  if (request.dryRun) {
    const runId = randomUUID();
    await enqueue([messageFor(request, runId)]);
    return { runId, dryRun: true, recorded: false };
  }
  const { kind, scope } = await planOf(services, request);
  const run = await createRun(services.prisma, kind, scope);
  try {
    await enqueue([messageFor(request, run.id)]);
  } catch (error) {
    await finishRun(services.prisma, run.id, 'failed', `could not enqueue: ${safeErrorMessage(error, secretsOf(services.config))}`);
    throw error;
  }
  return { runId: run.id, dryRun: false, recorded: true };
}

/** What the run covers: the container's feed ranges as Cosmos lists them now (of one type, or all); a user's partition. */
async function planOf(services: AppContext, request: MigrationRequest): Promise<{ kind: RunKind; scope: RunScope }> {
  switch (request.kind) {
    case 'full':
      return { kind: 'full', scope: await fullLoadScope(services) };
    case 'type':
      return { kind: 'type', scope: await fullLoadScope(services, { types: [request.documentType] }) };
    case 'user':
      return { kind: 'user', scope: { parts: ['all'], reader: 'query', pubkey: request.pubkey, skipExisting: false } };
  }
}

function messageFor(request: MigrationRequest, runId: string): MigrationMessageInput {
  switch (request.kind) {
    case 'full':
      return { kind: 'full', runId, batchSize: request.batchSize, dryRun: request.dryRun };
    case 'type':
      return { kind: 'full', runId, batchSize: request.batchSize, dryRun: request.dryRun, types: [request.documentType] };
    case 'user':
      return { kind: 'user', runId, pubkey: request.pubkey, dryRun: request.dryRun };
  }
}
