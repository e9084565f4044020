import { secretsOf } from '../../shared/runtime/safe-error.js';
import { getServices } from '../../shared/runtime/services.js';

/** The configured secrets to mask in a log line; none when the configuration itself is invalid (its errors name variables, never values). */
export function configuredSecrets(): string[] {
  try {
    return secretsOf(getServices().config);
  } catch {
    return [];
  }
}
