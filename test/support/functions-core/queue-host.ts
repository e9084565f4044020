import { InvocationContext } from '@azure/functions';
import type { MigrationQueues } from '../../../shared/storage-queue/queue-client.js';
import type { CapturedRegistration } from './load-function-app.js';

/**
 * The Functions host's queue listener, as a test loop (the host itself cannot run here). It does what
 * the WebJobs queue processor does with a storage-queue function:
 * - receives messages (several at once, handled concurrently, as one instance with `batchSize` does);
 * - hands the function the message parsed when its text is JSON and as a string otherwise (the Node
 *   worker receives JSON payloads as JSON);
 * - deletes a message when the function returns;
 * - when it throws: makes the message visible again (at once here; after host.json's
 *   `visibilityTimeout` in Azure), unless it has been dequeued `maxDequeueCount` times, in which case it
 *   is moved to `<queue>-poison`. A message received with a dequeue count above the limit goes straight
 *   to the poison queue without being handed to the function.
 * It stops when the queue is empty: every message handled, or poisoned. `duplicate` makes the queue's
 * at-least-once delivery actually deliver twice.
 */

export interface DrainOptions {
  maxDequeueCount: number;
  /** Messages received (and handled concurrently) per round. */
  batchSize?: number;
  /** Collects what the function logs, per level. */
  logs?: Array<{ level: string; message: string }>;
  /** Safety stop for a test that would otherwise loop for ever. */
  maxRounds?: number;
  /**
   * At-least-once delivery, made to happen: each message whose text this accepts is put on the queue a
   * second time when first received, so the function sees it twice (concurrently or later).
   */
  duplicate?: (text: string) => boolean;
}

export interface DrainResult {
  /** Function invocations, successful or not. */
  invocations: number;
  completed: number;
  failures: number;
  poisoned: number;
}

export async function drainQueue(queues: MigrationQueues, registration: CapturedRegistration, options: DrainOptions): Promise<DrainResult> {
  const result: DrainResult = { invocations: 0, completed: 0, failures: 0, poisoned: 0 };
  const maxRounds = options.maxRounds ?? 1000;
  const duplicated = new Set<string>();
  for (let round = 0; ; round += 1) {
    if (round >= maxRounds) throw new Error(`the queue did not drain in ${maxRounds} rounds`);
    const { receivedMessageItems } = await queues.main.receiveMessages({ numberOfMessages: options.batchSize ?? 8, visibilityTimeout: 60 });
    if (receivedMessageItems.length === 0) return result;
    await Promise.all(
      receivedMessageItems.map(async (message) => {
        const poison = async () => {
          await queues.poison.sendMessage(message.messageText);
          await queues.main.deleteMessage(message.messageId, message.popReceipt);
          result.poisoned += 1;
        };
        if (message.dequeueCount > options.maxDequeueCount) return poison();
        if (options.duplicate?.(message.messageText) && !duplicated.has(message.messageText)) {
          duplicated.add(message.messageText);
          await queues.main.sendMessage(message.messageText);
        }
        const context = new InvocationContext({
          invocationId: `test-${message.messageId}-${message.dequeueCount}`,
          functionName: registration.metadata.name,
          triggerMetadata: { id: message.messageId, dequeueCount: message.dequeueCount, insertionTime: message.insertedOn },
          logHandler: (level, ...args) => options.logs?.push({ level, message: args.map(String).join(' ') }),
        });
        result.invocations += 1;
        try {
          await registration.callback(payloadOf(message.messageText), context);
        } catch {
          result.failures += 1;
          if (message.dequeueCount >= options.maxDequeueCount) return poison();
          await queues.main.updateMessage(message.messageId, message.popReceipt, undefined, 0);
          return;
        }
        await queues.main.deleteMessage(message.messageId, message.popReceipt);
        result.completed += 1;
      }),
    );
  }
}

function payloadOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
