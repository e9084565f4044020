import { requireQueue } from '../../shared/config/env.js';
import { rangeLabel } from '../../shared/cosmos/feed-ranges.js';
import { listPoisonMessages, maxPeek, type PoisonMessage, replayPoisonMessages } from '../../shared/storage-queue/poison.js';
import { migrationQueues } from '../../shared/storage-queue/queue-client.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { untilInterrupted } from '../core/interrupt.js';
import { flag, sharedOptions, valued, wholeNumber } from '../core/options.js';

export const poisonCommand = defineCommand({
  script: 'migrate:poison',
  entry: 'cli/poison.ts',
  summary: 'list or replay the poison queue',
  description: [
    'Lists the messages the Functions runtime gave up on: those in <MIGRATION_QUEUE_NAME>-poison, each with',
    'what it asks for or why it is invalid. Messages carry no secrets (document ids, pubkeys, run ids).',
  ].join('\n'),
  options: {
    replay: flag(
      'Move every valid message back to the migration queue (sent there first, then deleted from the poison queue). ' +
        'Invalid ones stay and are listed.',
    ),
    limit: valued('<n>', `At most n messages (listing shows at most ${maxPeek}; replay defaults to all).`, wholeNumber(1, 1_000_000)),
    json: sharedOptions.json,
  },
  settings: ['AzureWebJobsStorage', 'AzureWebJobsStorage__accountName', 'MIGRATION_QUEUE_NAME'],
  exitCodes: {
    ok: 'done',
    failed: 'failed, the queue settings are missing, or some messages are invalid (replay)',
    interrupted:
      'interrupted (Ctrl-C): a message is always sent back before it is deleted, so at worst one is in both queues; run it again',
  },
  prepare: ({ values }) => {
    return async (io) => {
      const queues = migrationQueues(requireQueue(io.config(['queue'])));
      if (!values.replay) {
        const listing = await untilInterrupted(listPoisonMessages(queues, values.limit), io.signal);
        io.result(
          io.json
            ? JSON.stringify(listing, null, 2)
            : [`Poison queue: about ${listing.approximateCount} message(s).`, ...listing.messages.map(describeLine)].join('\n'),
        );
        return ExitCode.ok;
      }
      const result = await untilInterrupted(replayPoisonMessages(queues, { limit: values.limit }), io.signal);
      if (io.json) {
        io.result(JSON.stringify(result, null, 2));
      } else {
        const invalid =
          result.invalid.length > 0
            ? [`${result.invalid.length} invalid message(s) left in the poison queue:`, ...result.invalid.map(describeLine)]
            : [];
        io.result(
          [`Replayed ${result.replayed.length} message(s) to the migration queue.`, ...result.replayed.map(describeLine), ...invalid].join(
            '\n',
          ),
        );
      }
      return result.invalid.length > 0 ? ExitCode.failed : ExitCode.ok;
    };
  },
});

function describeLine(message: PoisonMessage): string {
  const what = message.message ? summary(message.message) : `INVALID (${message.invalid}): ${message.text.slice(0, 200)}`;
  return `  ${message.messageId}  ${message.insertedOn ?? ''}  ${what}`;
}

function summary(message: NonNullable<PoisonMessage['message']>): string {
  const dry = 'dryRun' in message && message.dryRun ? ', dry run' : '';
  switch (message.kind) {
    case 'batch':
      return (
        `batch of range ${rangeLabel(message.range)} of run ${message.runId} ` +
        `(${message.continuation ? 'continued' : 'first page'})${dry}`
      );
    case 'user':
      return `user ${message.pubkey}${message.runId ? ` (run ${message.runId})` : ''}${dry}`;
    case 'full':
      return `full run ${message.runId ?? '(new)'}${message.types ? ` (${message.types.join(', ')})` : ''}${dry}`;
    case 'documents':
      return `resync of ${message.documents.length} document(s)${message.reason ? `: ${message.reason}` : ''}`;
    case 'pending-sync':
      return 'copy of pending dual-mode writes to Cosmos (pending_sync)';
    case 'reconcile':
      return `reconcile pass ${message.passId ?? '(new)'}${message.step ? ` step ${message.step}` : ''}${message.apply ? ', removing' : ', dry run'}`;
    case 'switch':
      return `switch of the primary database to ${message.to}`;
  }
}
