import type { AppContext } from '../context/app-context.js';
import { findPassState } from '../migration/reconcile-passes.js';
import type { ReconcileMessage } from '../storage-queue/messages.js';
import { type ReconcileOutcome, reconcile } from '../sync/reconcile.js';

/** What a `reconcile` message did. */
export type ReconcileMessageOutcome =
  /** A reconcile pass ran to its end. */
  | { kind: 'reconcile'; outcome: ReconcileOutcome }
  /** A redelivered message whose pass had completed already: nothing to do. */
  | { kind: 'reconcile-done'; passId: string };

/**
 * A `reconcile` message: one whole pass in this invocation (memory stays flat; time grows with the rows, about
 * one page of `batchSize` rows per Cosmos query and point reads only for rows Cosmos lacks). A redelivery of a
 * message whose pass completed does nothing; one whose pass failed or was cut short runs it again from the start,
 * which is safe: rows already removed are not seen again, and every removal is confirmed and compare-and-delete.
 * `apply` needs MIGRATION_MODE=true (`MigrationModeDisabledError`) and Cosmos primary (`ReconcileRefusedError`).
 */
export async function reconcileFromMessage(services: AppContext, message: ReconcileMessage): Promise<ReconcileMessageOutcome> {
  if (message.passId !== undefined && (await findPassState(services.prisma, message.passId)) === 'completed') {
    return { kind: 'reconcile-done', passId: message.passId };
  }
  const outcome = await reconcile(services, { apply: message.apply, passId: message.passId, chunkSize: message.batchSize });
  return { kind: 'reconcile', outcome };
}
