import { z } from 'zod';
import { ConfigError } from '../config/env.js';

/**
 * Which change feed the sync trigger reads (`COSMOSDB_CHANGE_FEED_MODE`):
 * - `LatestVersion` (default): creates and updates, latest version only. Deletes never appear, so a
 *   document deleted in Cosmos stays in PostgreSQL; `migrate:verify` / `verifyAll` report such rows
 *   as missing in Cosmos.
 * - `AllVersionsAndDeletes`: every change including deletes, which the sync applies as version-guarded
 *   deletes. Needs continuous backup on the Cosmos account and a Functions extension bundle whose
 *   Cosmos DB extension supports the mode (preview at the time of writing), and cannot start from
 *   the beginning of the container.
 *
 * Read when the function is registered: the mode is part of the trigger's binding, not of a call.
 */
export const changeFeedModes = ['LatestVersion', 'AllVersionsAndDeletes'] as const;
export type ChangeFeedMode = (typeof changeFeedModes)[number];

export const changeFeedModeSetting = 'COSMOSDB_CHANGE_FEED_MODE';

const modeSchema = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === undefined || value === '' ? 'LatestVersion' : value))
  .pipe(z.enum(changeFeedModes));

/** The configured mode; a value that names neither is a `ConfigError` naming the setting. */
export function changeFeedModeFrom(source: Record<string, string | undefined> = process.env): ChangeFeedMode {
  const parsed = modeSchema.safeParse(source[changeFeedModeSetting]);
  if (!parsed.success) {
    throw new ConfigError([`${changeFeedModeSetting}: expected ${changeFeedModes.join(' or ')}`]);
  }
  return parsed.data;
}
