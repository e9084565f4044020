import type { QueueClient } from '@azure/storage-queue';
import { type AppConfig, requireQueue } from '../config/env.js';
import { type MigrationMessageInput, migrationMessageSchema } from './messages.js';
import { migrationQueues } from './queue-client.js';

/** A message on the queue: enough to take it back (`deleteMessage`) before anyone has received it. */
export interface SentMessage {
  messageId: string;
  popReceipt: string;
}

export interface SendOptions {
  /** Seconds the message stays invisible after it is sent: it is delivered no sooner (default 0). */
  delaySeconds?: number;
}

/**
 * Validates each message and sends it as plain JSON text (not base64: host.json sets
 * `messageEncoding: none`). Sends run in parallel; the first failure rejects the whole call, and
 * messages already sent stay sent, which is safe because every handler is idempotent.
 */
export async function enqueueMigrationMessages(
  config: AppConfig,
  messages: readonly MigrationMessageInput[],
  options: SendOptions = {},
): Promise<SentMessage[]> {
  const queues = migrationQueues(requireQueue(config));
  await queues.ensureExist();
  return Promise.all(messages.map((message) => sendMessage(queues.main, message, options)));
}

/** Sends one already-built message to a given queue (the poison replay sends to the main queue this way). */
export async function sendMessage(queue: QueueClient, message: MigrationMessageInput, options: SendOptions = {}): Promise<SentMessage> {
  // Validated on the way in as well as on the way out: a bad message is a bug here, not a poison message later.
  const text = JSON.stringify(migrationMessageSchema.parse(message));
  const sent = await queue.sendMessage(text, options.delaySeconds ? { visibilityTimeout: options.delaySeconds } : undefined);
  return { messageId: sent.messageId, popReceipt: sent.popReceipt };
}

/** Takes back a message this process sent and nobody has received yet (its pop receipt is still valid). */
export async function withdrawMessage(config: AppConfig, sent: SentMessage): Promise<void> {
  await migrationQueues(requireQueue(config)).main.deleteMessage(sent.messageId, sent.popReceipt);
}
