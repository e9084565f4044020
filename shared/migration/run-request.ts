import { z } from 'zod';
import { pubkey } from '../domain/fields.js';
import { batchSizeSchema, documentTypeSchema } from '../storage-queue/messages.js';

/**
 * A request to start a run through the queue: the body of `POST /api/migration/start` (validated by the
 * HTTP function) and what `requestMigration` records and enqueues.
 */
export const migrationRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('full'), batchSize: batchSizeSchema.optional(), dryRun: z.boolean().default(false) }),
  z.strictObject({
    kind: z.literal('type'),
    documentType: documentTypeSchema,
    batchSize: batchSizeSchema.optional(),
    dryRun: z.boolean().default(false),
  }),
  z.strictObject({ kind: z.literal('user'), pubkey, dryRun: z.boolean().default(false) }),
]);

export type MigrationRequest = z.infer<typeof migrationRequestSchema>;
