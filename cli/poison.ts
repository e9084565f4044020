import { parseArgs } from 'node:util';
import { loadConfig, requireQueue } from '../shared/config/env.js';
import { safeErrorMessage } from '../shared/core/safe-error.js';
import { listPoisonMessages, maxPeek, type PoisonMessage, replayPoisonMessages } from '../shared/storage-queue/poison.js';
import { migrationQueues } from '../shared/storage-queue/queue-client.js';

const HELP = `Usage: npm run migrate:poison [-- --replay] [--limit <n>] [--json]

Lists the messages the Functions runtime gave up on: those in <MIGRATION_QUEUE_NAME>-poison, each
with what it asks for or why it is invalid. Messages carry no secrets (document ids, pubkeys, run ids).

Options:
  --replay     Move every valid message back to the migration queue (sent there first, then deleted
               from the poison queue). Invalid ones stay in the poison queue and are listed.
  --limit <n>  At most n messages (listing shows at most ${maxPeek}; replay defaults to all).
  --json       Print JSON instead of text.
  -h, --help   Show this help.

Environment:
  AzureWebJobsStorage    Storage connection string (UseDevelopmentStorage=true for Azurite), or
  AzureWebJobsStorage__accountName / __queueServiceUri (+ __clientId) to connect by Entra ID.
  MIGRATION_QUEUE_NAME   The migration queue (default nostria-migration).

Exit codes: 0 done, 1 failed or some messages are invalid (replay), 2 bad arguments.`;

interface Options {
  replay: boolean;
  limit?: number;
  json: boolean;
}

/** Parses arguments, lists or replays, and returns the process exit code. */
async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        replay: { type: 'boolean', default: false },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    options = { replay: values.replay, json: values.json, limit: values.limit === undefined ? undefined : parseLimit(values.limit) };
  } catch (error) {
    console.error(`migrate:poison: ${error instanceof Error ? error.message : String(error)}\nRun with --help for usage.`);
    return 2;
  }

  try {
    const queues = migrationQueues(requireQueue(loadConfig()));
    if (!options.replay) {
      const listing = await listPoisonMessages(queues, options.limit);
      if (options.json) console.log(JSON.stringify(listing, null, 2));
      else {
        console.log(`Poison queue: about ${listing.approximateCount} message(s).`);
        for (const message of listing.messages) console.log(describeLine(message));
      }
      return 0;
    }
    const result = await replayPoisonMessages(queues, { limit: options.limit });
    if (options.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`Replayed ${result.replayed.length} message(s) to the migration queue.`);
      for (const message of result.replayed) console.log(describeLine(message));
      if (result.invalid.length > 0) {
        console.log(`${result.invalid.length} invalid message(s) left in the poison queue:`);
        for (const message of result.invalid) console.log(describeLine(message));
      }
    }
    return result.invalid.length > 0 ? 1 : 0;
  } catch (error) {
    console.error(`migrate:poison: ${safeErrorMessage(error)}`);
    return 1;
  }
}

function parseLimit(text: string): number {
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit: expected a whole number of at least 1, got "${text}"`);
  return limit;
}

function describeLine(message: PoisonMessage): string {
  const what = message.message ? summary(message.message) : `INVALID (${message.invalid}): ${message.text.slice(0, 200)}`;
  return `  ${message.messageId}  ${message.insertedOn ?? ''}  ${what}`;
}

function summary(message: NonNullable<PoisonMessage['message']>): string {
  const dry = 'dryRun' in message && message.dryRun ? ', dry run' : '';
  switch (message.kind) {
    case 'batch':
      return `batch ${message.documentType} of run ${message.runId} (${message.continuation ? 'continued' : 'first page'})${dry}`;
    case 'user':
      return `user ${message.pubkey}${message.runId ? ` (run ${message.runId})` : ''}${dry}`;
    case 'full':
      return `full run ${message.runId ?? '(new)'}${message.types ? ` (${message.types.join(', ')})` : ''}${dry}`;
    case 'documents':
      return `resync of ${message.documents.length} document(s)${message.reason ? `: ${message.reason}` : ''}`;
    case 'pending-sync':
      return 'copy of pending dual-mode writes to Cosmos (pending_sync)';
  }
}

process.exitCode = await main(process.argv.slice(2));
