import { z } from 'zod';

/** A partition key value as Cosmos keeps one: a JSON scalar, or `{ none: true }` for an item stored without one. */
export const partitionKeySchema = z.union([z.string(), z.number(), z.boolean(), z.null(), z.strictObject({ none: z.literal(true) })]);

export type PartitionKeyValue = z.infer<typeof partitionKeySchema>;
