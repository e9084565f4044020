import { ConfigError } from '../core/errors.js';
import { type Env, envSchema } from './env.js';

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
export type ChangeFeedMode = Env['COSMOSDB_CHANGE_FEED_MODE'];

const setting = 'COSMOSDB_CHANGE_FEED_MODE';

/** The configured mode, through the one configuration schema; a bad value is a `ConfigError` naming the setting. */
export function changeFeedModeFrom(source: Record<string, string | undefined> = process.env): ChangeFeedMode {
  const parsed = envSchema.shape[setting].safeParse(source[setting]);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => ({ settings: [setting], problem: issue.message })));
  }
  return parsed.data;
}
