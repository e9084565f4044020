import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../context/app-context.js';
import { assertMayMigrate, refuseUnlessCosmosIsPrimary } from '../migration/migration-mode.js';
import type { MigrationMessageInput } from '../storage-queue/messages.js';
import type { SentMessage } from '../storage-queue/send-messages.js';

/** The body of `POST /api/migration/reconcile`: a dry run unless `apply` is true. */
export const reconcileRequestSchema = z.strictObject({
  apply: z.boolean().default(false),
  batchSize: z.number().int().min(1).max(5000).optional(),
});

export type ReconcileRequest = z.infer<typeof reconcileRequestSchema>;

export interface RequestedReconcile {
  /** The pass's id: `migrate:stats` (and `GET /api/migration/stats`) show it as the last reconcile once it starts. */
  passId: string;
  dryRun: boolean;
}

/**
 * Puts a `reconcile` message on the migration queue, under a new pass id; the queue function runs the pass.
 * Refuses at once what the pass would refuse: `apply` without MIGRATION_MODE (`MigrationModeDisabledError`) or
 * while PostgreSQL is primary (`ReconcileRefusedError`).
 */
export async function requestReconcile(
  services: AppContext,
  request: ReconcileRequest,
  enqueue: (messages: readonly MigrationMessageInput[]) => Promise<SentMessage[]>,
): Promise<RequestedReconcile> {
  assertMayMigrate(services.config, !request.apply);
  if (request.apply) await refuseUnlessCosmosIsPrimary(services);
  const passId = randomUUID();
  await enqueue([{ kind: 'reconcile', passId, apply: request.apply, ...(request.batchSize ? { batchSize: request.batchSize } : {}) }]);
  return { passId, dryRun: !request.apply };
}
