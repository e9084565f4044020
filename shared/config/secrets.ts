import type { AppConfig } from './env.js';

/** The secrets a configuration holds: the PostgreSQL password and the Cosmos account key. */
export function secretsOf(config: AppConfig | undefined): string[] {
  const secrets: string[] = [];
  if (config?.databaseUrl) {
    try {
      const password = decodeURIComponent(new URL(config.databaseUrl).password);
      if (password) secrets.push(password);
    } catch {
      // An unparseable URL is rejected by loadConfig; the patterns below still mask its userinfo.
    }
  }
  const auth = config?.cosmos?.auth;
  if (auth?.kind === 'connectionString') {
    const key = /AccountKey=([^;]+)/i.exec(auth.connectionString)?.[1];
    if (key) secrets.push(key);
  }
  return secrets;
}

/**
 * The secrets of the configuration `services` holds (read on first use), or none when that
 * configuration is itself invalid: its errors name settings, never their values.
 */
export function configuredSecrets(services: { readonly config: AppConfig }): string[] {
  try {
    return secretsOf(services.config);
  } catch {
    return [];
  }
}
