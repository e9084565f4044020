import { ConfigError, loadConfig, requireCosmos, requirePostgres, type AppConfig } from '../config/env.js';
import { useServices, type Services } from '../runtime/services.js';

/** What the migrate:* commands say when they cannot run here; the settings are named, never their values. */
export class NotConfiguredError extends Error {
  override readonly name = 'NotConfiguredError';
}

/**
 * The process's services for a migrate:* command, from the environment only. Both databases must be
 * configured: these commands work on the databases the user names and nothing else, so with nothing
 * set they stop and point at `npm run demo`, which brings its own throwaway databases.
 */
export function openConfiguredServices(source: Record<string, string | undefined> = process.env): Services {
  let config: AppConfig;
  try {
    config = loadConfig(source);
  } catch (error) {
    if (error instanceof ConfigError) throw new NotConfiguredError(`${error.message}\n${hint}`);
    throw error;
  }
  const missing = [() => requirePostgres(config), () => requireCosmos(config)].flatMap((check) => {
    try {
      check();
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  });
  if (missing.length > 0) {
    throw new NotConfiguredError(
      `Not configured: this command works on Cosmos DB and PostgreSQL and needs both.\nMissing settings:\n${missing
        .map((problem) => `  - ${problem}`)
        .join('\n')}\n${hint}`,
    );
  }
  return useServices({ config });
}

const hint =
  'Set them in the environment (see README, "Configuration").\n' +
  'To see the whole migration run on throwaway local databases instead, with nothing configured: npm run demo';
