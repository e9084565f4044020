import { z } from 'zod';
import { describeIssues } from '../core/describe-issues.js';
import { DeferralImpossibleError, InvalidMessageError } from '../core/errors.js';
import { defaultBatchSize } from '../domain/batch-size.js';
import { type DocumentType, documentTypeNames } from '../domain/document-types.js';
import { pubkey } from '../domain/fields.js';
import { partitionKeySchema } from '../domain/partition-key.js';
import { switchTargetSchema } from '../domain/phase.js';

/**
 * The migration queue's messages. Every message is plain JSON text (host.json sets
 * `messageEncoding: none`), so `az storage message put --content '{"kind":"full",...}'` works, and
 * every message is validated here before anything acts on it. Objects are strict: a misspelt field is
 * a rejected message, not a silently ignored option.
 */

/** A run's id: `createRun` makes UUIDs; the pattern keeps anything else a message carries harmless in logs and URLs. */
export const runIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'expected 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit');

export const documentTypeSchema = z.enum(documentTypeNames as [DocumentType, ...DocumentType[]]);
/** Documents per Cosmos page; the engine writes each page in one transaction. */
export const batchSizeSchema = z.number().int().min(1).max(1000);

/**
 * A feed range of the container, by its effective partition key bounds: `"<min>-<max>"` in hex (the first
 * range's minimum is empty), as `listFeedRanges` lists them.
 */
export const rangeKeySchema = z
  .string()
  .max(200)
  .regex(/^[0-9A-F]*-[0-9A-F]+$/, 'expected a feed range "<min>-<max>" (hexadecimal effective partition keys)');

/**
 * One page of one feed range of a run: process the page that starts at `continuation` (null: the range's
 * first), checkpoint, enqueue the next. `previous` is where the message before it in the chain started
 * (absent on the first page): it tells "my predecessor has not committed yet" from "someone already did
 * my page". A dry run has no recorded run to say what it covers, so its messages carry the `types` of a
 * run by type.
 */
export const batchMessageSchema = z.strictObject({
  kind: z.literal('batch'),
  runId: runIdSchema,
  range: rangeKeySchema,
  continuation: z.string().min(1).nullable(),
  previous: z.string().min(1).nullable().optional(),
  batchSize: batchSizeSchema.default(defaultBatchSize),
  dryRun: z.boolean().default(false),
  types: z.array(documentTypeSchema).min(1).optional(),
});

/**
 * All of one user's documents. With `runId`, the recorded run `POST /api/migration/start` created for
 * this user is continued from its checkpoint; without, a new run is recorded (none for a dry run).
 */
export const userMessageSchema = z.strictObject({
  kind: z.literal('user'),
  pubkey,
  runId: runIdSchema.optional(),
  dryRun: z.boolean().default(false),
});

/**
 * Everything: fans out into one `batch` chain per feed range of the container (so more physical partitions
 * means more instances at work in parallel), each reading its range's change feed from the beginning. With
 * `types`, the chains keep only those types. Without `runId` a new run is recorded; with one, that run
 * (created by `POST /api/migration/start`) is continued from its checkpoints.
 */
export const fullMessageSchema = z.strictObject({
  kind: z.literal('full'),
  runId: runIdSchema.optional(),
  batchSize: batchSizeSchema.default(defaultBatchSize),
  dryRun: z.boolean().default(false),
  types: z.array(documentTypeSchema).min(1).optional(),
});

/**
 * A change the sync could not write. For a changed document `ts` is the `_ts` it was seen at (and `lsn` its
 * position in the change feed, when the feed said): the handler reads the document's current state by id and
 * partition key and applies that. For a delete (`deleted: true`) `ts` is the delete's commit time and the
 * handler applies the delete itself, version-guarded; its partition key is known only when the feed said.
 * Any id and partition key Cosmos can hold is accepted: a change is never refused for its shape here.
 */
const changeEntrySchema = z
  .strictObject({
    id: z.string().min(1),
    partitionKey: partitionKeySchema.optional(),
    /** How messages sent before `partitionKey` existed name the partition; read as `partitionKey`. */
    pubkey: z.string().min(1).optional(),
    type: z.string().max(100).optional(),
    ts: z.number().int().min(0),
    lsn: z.number().int().min(0).optional(),
    deleted: z.literal(true).optional(),
  })
  .refine((entry) => entry.deleted || entry.partitionKey !== undefined || entry.pubkey !== undefined, {
    error: 'required to read a changed document back',
    path: ['partitionKey'],
  });

/** A change-feed item that names no document, kept whole as its JSON text so the handler can quarantine it. */
const rawEntrySchema = z.strictObject({ raw: z.string().min(1) });

export const resyncEntrySchema = z.union([changeEntrySchema, rawEntrySchema]);

export const documentsMessageSchema = z.strictObject({
  kind: z.literal('documents'),
  reason: z.string().max(1000).optional(),
  documents: z.array(resyncEntrySchema).min(1),
});

/**
 * Dual mode with PostgreSQL primary: copy the documents whose Cosmos copy is behind (`pending_sync`)
 * again, and if entries remain, send this message again for when the next one is due. The mirror
 * sends it after recording a failure; anyone may send one at any time (`{"kind":"pending-sync"}`).
 */
export const pendingSyncMessageSchema = z.strictObject({
  kind: z.literal('pending-sync'),
});

/**
 * A reconcile pass (LatestVersion mode's deletes): PostgreSQL rows whose documents are gone from Cosmos, found feed
 * range by feed range and confirmed; removed only with `apply` (MIGRATION_MODE=true, Cosmos primary), each copied to
 * `reconciled_deletes`. `passId` names the pass (`POST /api/migration/reconcile` sets one). The first message has
 * no `range`: it starts the pass and queues one chain per feed range, as a `full` message does. Each chain's
 * messages name their `range` and `step` (0 first): a step does a few pages of its range, then queues the next
 * step. A step the range has moved past, or of a completed pass, does nothing.
 */
export const reconcileMessageSchema = z.strictObject({
  kind: z.literal('reconcile'),
  passId: runIdSchema.optional(),
  apply: z.boolean().default(false),
  /** Documents per change-feed page and PostgreSQL rows per page. */
  batchSize: z.number().int().min(1).max(5000).default(1000),
  range: rangeKeySchema.optional(),
  step: z.number().int().min(0).optional(),
});

/**
 * Switch the primary database (`npm run migrate:switch`, `POST /api/migration/switch`): run again after a
 * redelivery, it finishes or undoes what a killed delivery left, so it may be delivered twice.
 */
export const switchMessageSchema = z.strictObject({
  kind: z.literal('switch'),
  to: switchTargetSchema,
  maxPauseSeconds: z.number().positive().max(600).optional(),
  maxLagSeconds: z.number().int().min(0).max(86_400).optional(),
  requestedBy: z.string().max(200).optional(),
});

export const migrationMessageSchema = z.discriminatedUnion('kind', [
  batchMessageSchema,
  userMessageSchema,
  fullMessageSchema,
  documentsMessageSchema,
  pendingSyncMessageSchema,
  reconcileMessageSchema,
  switchMessageSchema,
]);

export type BatchMessage = z.infer<typeof batchMessageSchema>;
export type UserMessage = z.infer<typeof userMessageSchema>;
export type FullMessage = z.infer<typeof fullMessageSchema>;
export type ResyncEntry = z.infer<typeof resyncEntrySchema>;
export type ChangeEntry = z.infer<typeof changeEntrySchema>;
export type DocumentsMessage = z.infer<typeof documentsMessageSchema>;
export type ReconcileMessage = z.infer<typeof reconcileMessageSchema>;
export type SwitchMessage = z.infer<typeof switchMessageSchema>;
export type MigrationMessage = z.infer<typeof migrationMessageSchema>;
/** What a sender writes: defaults may be left out. */
export type MigrationMessageInput = z.input<typeof migrationMessageSchema>;

/**
 * Validates a queue item as the trigger hands it over: the runtime gives JSON messages already parsed,
 * anything else as a string (or bytes), which is parsed here. The error names what is wrong, never
 * more than a short excerpt of the message.
 */
export function parseMigrationMessage(item: unknown): MigrationMessage {
  let value = item;
  if (typeof value === 'string' || value instanceof Uint8Array) {
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch {
      throw new InvalidMessageError([`not JSON: ${JSON.stringify(text.slice(0, 80))}`]);
    }
  }
  const parsed = migrationMessageSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidMessageError(describeIssues(parsed.error, '(message)'));
  }
  return parsed.data;
}

/**
 * What a message costs against the queue's 64 KiB limit: its UTF-8 bytes, with `&`, `<` and `>` counted as the
 * XML entities the Storage REST API sends them as (the message travels inside an XML body).
 */
export function queueMessageBytes(text: string): number {
  let entities = 0;
  for (const char of text) if (char === '&' || char === '<' || char === '>') entities += 1;
  return Buffer.byteLength(text, 'utf8') + entities * 4;
}

/** What one message may carry: well under the queue's 64 KiB, which also counts the envelope around it. */
export const maxMessageBytes = 48 * 1024;

/**
 * Packs resync entries into as few `documents` messages as fit under {@link maxMessageBytes} each. Every entry
 * goes into exactly one message, in order; nothing is validated in a way that can fail part-way. An entry too
 * large for any message on its own is a {@link DeferralImpossibleError}, thrown before anything is sent.
 */
export function documentsMessages(entries: readonly ResyncEntry[], reason?: string): DocumentsMessage[] {
  const shortReason = reason === undefined ? undefined : reason.slice(0, 1000);
  const envelope = queueMessageBytes(JSON.stringify({ kind: 'documents', reason: shortReason, documents: [] }));
  const messages: DocumentsMessage[] = [];
  let current: ResyncEntry[] = [];
  let size = envelope;
  for (const entry of entries) {
    const bytes = queueMessageBytes(JSON.stringify(entry)) + 1;
    if (envelope + bytes > maxMessageBytes) throw new DeferralImpossibleError(envelope + bytes, maxMessageBytes);
    if (size + bytes > maxMessageBytes) {
      messages.push({ kind: 'documents', reason: shortReason, documents: current });
      current = [];
      size = envelope;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0) messages.push({ kind: 'documents', reason: shortReason, documents: current });
  return messages;
}
