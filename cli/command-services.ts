import { loadConfigFor } from '../shared/config/env.js';
import type { AppContext } from '../shared/context/app-context.js';
import { ConfigError, NotConfiguredError } from '../shared/core/errors.js';
import { useServices } from '../shared/runtime/services.js';

/**
 * The process's services for a migrate:* command, from the environment only. Both databases must be
 * configured: these commands work on the databases the user names and nothing else, so with nothing
 * set they stop, name every setting that is missing or malformed at once, and point at `npm run demo`,
 * which brings its own throwaway databases.
 */
export function openConfiguredServices(source: Record<string, string | undefined> = process.env): AppContext {
  try {
    return useServices({ config: loadConfigFor(['postgres', 'cosmos'], source) });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new NotConfiguredError(
      `Not configured: this command works on Cosmos DB and PostgreSQL and needs both.\n${error.problems
        .map((problem) => `  - ${problem}`)
        .join('\n')}\n${hint}`,
      error.fields.settings,
    );
  }
}

const hint =
  'Set them in the environment (see README, "Configuration").\n' +
  'To see the whole migration run on throwaway local databases instead, with nothing configured: npm run demo';
