import { InvalidMessageError } from '../core/errors.js';
import { type MigrationMessage, parseMigrationMessage } from './messages.js';
import type { MigrationQueues } from './queue-client.js';
import { sendMessage } from './send-messages.js';

/** A message in the poison queue, as listed: its text, and what it is or why it cannot be processed. */
export interface PoisonMessage {
  messageId: string;
  insertedOn?: string;
  /** How often it has been received from the poison queue itself (the main queue's count is not kept). */
  dequeueCount: number;
  text: string;
  message?: MigrationMessage;
  invalid?: string;
}

export interface PoisonListing {
  /** Storage's estimate of the queue length. */
  approximateCount: number;
  /** The first messages (a peek shows at most 32). */
  messages: PoisonMessage[];
}

/** The most a peek returns. */
export const maxPeek = 32;

/** Looks at the first `limit` poison messages without taking them (they stay where they are). */
export async function listPoisonMessages(queues: MigrationQueues, limit = maxPeek): Promise<PoisonListing> {
  const [properties, peeked] = await Promise.all([
    queues.poison.getProperties(),
    queues.poison.peekMessages({ numberOfMessages: Math.min(Math.max(limit, 1), maxPeek) }),
  ]);
  return {
    approximateCount: properties.approximateMessagesCount ?? 0,
    messages: peeked.peekedMessageItems.map((item) => ({
      messageId: item.messageId,
      insertedOn: item.insertedOn.toISOString(),
      dequeueCount: item.dequeueCount,
      ...describe(item.messageText),
    })),
  };
}

export interface ReplayResult {
  replayed: PoisonMessage[];
  /** Messages that fail validation: left in the poison queue (visible again after the hold). */
  invalid: PoisonMessage[];
}

export interface ReplayOptions {
  /** Stop after this many messages (default: until the queue is empty). */
  limit?: number;
  /** How long a received message stays hidden while it is being moved (seconds, default 60). */
  holdSeconds?: number;
}

/**
 * Moves poison messages back to the migration queue. Each message is validated first; a valid one is
 * sent to the main queue and only then deleted from the poison queue, so a failure in between leaves
 * a copy in both queues (harmless: every handler is idempotent), never in neither. Invalid messages
 * stay in the poison queue.
 */
export async function replayPoisonMessages(queues: MigrationQueues, options: ReplayOptions = {}): Promise<ReplayResult> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const result: ReplayResult = { replayed: [], invalid: [] };
  const seen = new Set<string>();
  await queues.ensureExist();
  while (result.replayed.length + result.invalid.length < limit) {
    const wanted = Math.min(maxPeek, limit - result.replayed.length - result.invalid.length);
    const { receivedMessageItems } = await queues.poison.receiveMessages({
      numberOfMessages: wanted,
      visibilityTimeout: options.holdSeconds ?? 60,
    });
    // An invalid message reappears once its hold ends; meeting it again means everything has been seen.
    const fresh = receivedMessageItems.filter((item) => !seen.has(item.messageId));
    if (fresh.length === 0) break;
    for (const item of fresh) {
      seen.add(item.messageId);
      const entry: PoisonMessage = {
        messageId: item.messageId,
        insertedOn: item.insertedOn.toISOString(),
        dequeueCount: item.dequeueCount,
        ...describe(item.messageText),
      };
      if (!entry.message) {
        result.invalid.push(entry);
        continue;
      }
      await sendMessage(queues.main, entry.message);
      await queues.poison.deleteMessage(item.messageId, item.popReceipt);
      result.replayed.push(entry);
    }
  }
  return result;
}

function describe(text: string): Pick<PoisonMessage, 'text' | 'message' | 'invalid'> {
  try {
    return { text, message: parseMigrationMessage(text) };
  } catch (error) {
    if (error instanceof InvalidMessageError) return { text, invalid: error.message };
    throw error;
  }
}
