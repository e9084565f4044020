import { app, type InvocationContext } from '@azure/functions';
import { configuredSecrets } from '../shared/config/secrets.js';
import { AppError, answerOf } from '../shared/core/errors.js';
import { safeErrorMessage } from '../shared/core/safe-error.js';
import { isRangeKey, rangeLabel } from '../shared/cosmos/feed-ranges.js';
import { handleMigrationMessage, type MessageOutcome } from '../shared/queue/handle-migration-message.js';
import { messageTelemetry } from '../shared/queue/message-telemetry.js';
import { getServices } from '../shared/runtime/services.js';
import { parseMigrationMessage } from '../shared/storage-queue/messages.js';
import { enqueueMigrationMessages, withdrawMessage } from '../shared/storage-queue/send-messages.js';
import { emitTelemetry } from '../shared/telemetry/telemetry.js';

/**
 * The migration queue (`%MIGRATION_QUEUE_NAME%` on the host storage, `AzureWebJobsStorage`): full runs
 * fan out into one chain of page messages per feed range (physical partition) of the container, so the
 * more partitions the account has, the more instances migrate in parallel, all of them within one shared
 * request-unit budget (MIGRATION_MAX_RU_PER_SECOND); runs by type; user migrations; and resyncs of changes
 * the sync function could not write.
 *
 * A message that is malformed, names an unknown run, or asks to write without MIGRATION_MODE is logged
 * with the reason and thrown. The host then retries it up to `maxDequeueCount` times (host.json: 5) and
 * moves it to `<queue>-poison`, where `npm run migrate:poison` lists it and can replay it. The retries
 * of a message that can never succeed are the price of one simple rule: every failure throws.
 */
export async function migrationQueue(item: unknown, context: InvocationContext): Promise<void> {
  const { id = '?', dequeueCount = '?' } = (context.triggerMetadata ?? {}) as { id?: string; dequeueCount?: number };
  const attempt = `message ${id}, attempt ${dequeueCount}`;
  const services = getServices();
  try {
    const message = parseMigrationMessage(item);
    const outcome = await handleMigrationMessage(
      {
        services,
        enqueue: (messages, options) => enqueueMigrationMessages(services.config, messages, options),
        withdraw: (sent) => withdrawMessage(services.config, sent),
        ...(id === '?' ? {} : { messageId: id }),
      },
      message,
    );
    context.log(`${attempt}: ${describe(outcome)}`);
    for (const event of messageTelemetry(outcome)) emitTelemetry((line) => context.log(line), event);
  } catch (error) {
    // The error table says how it is logged; our own messages are safe as they are, anything else is masked.
    const text = error instanceof AppError ? error.message : safeErrorMessage(error, configuredSecrets(services));
    context.error(`${attempt}: ${answerOf(error).queue}, ${text}`);
    throw error;
  }
}

function describe(outcome: MessageOutcome): string {
  switch (outcome.kind) {
    case 'fanned-out':
      return (
        `run ${outcome.runId}${outcome.dryRun ? ' (dry run)' : ''}: started ${outcome.parts.length} chain(s): ` +
        outcome.parts.map(partName).join(', ')
      );
    case 'page':
      return (
        `run ${outcome.runId}${outcome.dryRun ? ' (dry run)' : ''} ${partName(outcome.part)}: ${outcome.documents} document(s), ` +
        `${outcome.written} written, ${outcome.unchanged} unchanged, ${outcome.quarantined} quarantined, ${outcome.failed} refused` +
        (outcome.partDone ? `; ${partName(outcome.part)} done` : '') +
        (outcome.runCompleted ? '; run completed' : '')
      );
    case 'duplicate':
      return `run ${outcome.runId} ${partName(outcome.part)}: nothing to do, ${outcome.reason}`;
    case 'user':
      return (
        `user ${outcome.pubkey}, run ${outcome.runId}${outcome.dryRun ? ' (dry run)' : ''}: ` +
        `${outcome.processed} document(s), ${outcome.written} written, ${outcome.quarantined} quarantined`
      );
    case 'resync':
      return (
        `resync: ${outcome.outcome.read} read back, ${outcome.outcome.written} written, ${outcome.outcome.unchanged} unchanged, ` +
        `${outcome.outcome.quarantined} quarantined, ${outcome.outcome.deleted} deleted (${outcome.outcome.gone} gone from Cosmos), ` +
        `${outcome.outcome.echoes} mirror echo(es), ${outcome.outcome.diverged} diverged`
      );
    case 'pending-sync':
      return (
        `pending Cosmos writes: ${outcome.written} written, ${outcome.deleted} deleted, ${outcome.failed} failed again; ` +
        `${outcome.remaining} waiting` +
        (outcome.next ? `, next retry in ${outcome.next.delaySeconds} s${outcome.next.sent ? '' : ' (already scheduled)'}` : '')
      );
    case 'reconcile-started':
      return (
        `reconcile pass ${outcome.passId}${outcome.dryRun ? ' (dry run)' : ''}: started ${outcome.ranges.length} chain(s): ` +
        outcome.ranges.map(partName).join(', ')
      );
    case 'reconcile': {
      const { counts } = outcome;
      return (
        `reconcile pass ${outcome.passId}${outcome.dryRun ? ' (dry run)' : ''} ${partName(outcome.range)} step ${outcome.step}: ` +
        `${counts.documents} document(s) read, ${counts.scanned} row(s) compared, ${counts.candidates} missing in Cosmos, ` +
        `${counts.confirmed} confirmed gone, ${counts.removed} removed, ${counts.keptRecreated + counts.keptChanged} kept` +
        (outcome.next === undefined ? `; ${partName(outcome.range)} done` : `; step ${outcome.next} queued`) +
        (outcome.quarantine
          ? `; quarantine: ${outcome.quarantine.checked} open entr(ies) checked, ${outcome.quarantine.gone} gone from Cosmos, ` +
            `${outcome.quarantine.closed} closed`
          : '') +
        (outcome.totals
          ? `; pass completed: ${outcome.totals.scanned} row(s) compared, ${outcome.totals.confirmed} confirmed gone, ` +
            `${outcome.totals.removed} removed`
          : '')
      );
    }
    case 'reconcile-hashing':
      return `reconcile pass ${outcome.passId}${outcome.dryRun ? ' (dry run)' : ''}: hashing pubkeys, continued by the next message`;
    case 'switch': {
      const { result } = outcome;
      if (result.outcome === 'refused') {
        const failed = result.readiness?.checks.filter((check) => !check.passed) ?? [];
        return `switch refused, nothing changed: ${failed.map((check) => `${check.name} (${check.figure}; ${check.advice ?? ''})`).join('; ')}`;
      }
      return result.outcome === 'completed'
        ? `switched ${result.phaseBefore} -> ${result.phaseAfter}; writes held ${result.pauseMs ?? 0} ms`
        : `switch: already ${result.phaseAfter}`;
    }
    case 'reconcile-done':
      return `reconcile pass ${outcome.passId}: completed already, nothing to do`;
    case 'reconcile-duplicate':
      return `reconcile pass ${outcome.passId} ${partName(outcome.range)} step ${outcome.step}: nothing to do, ${outcome.reason}`;
  }
}

/** A part in a log line: a feed range by its bounds (`range 4000-8000`), a type by its name. */
function partName(part: string): string {
  return isRangeKey(part) ? `range ${rangeLabel(part)}` : part;
}

app.storageQueue('migrationQueue', {
  queueName: '%MIGRATION_QUEUE_NAME%',
  connection: 'AzureWebJobsStorage',
  handler: migrationQueue,
});
