import pg from 'pg';

/**
 * Creating and dropping whole databases on a server the caller owns (the demo's embedded server, the
 * benchmark's and the tests'). CREATE/DROP DATABASE take no parameters, so names are quoted identifiers.
 */

/** The same server, another database. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Runs `work` on a short-lived connection to the maintenance database. */
export async function withAdminClient<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (or a copy of `template`) and returns its connection string. */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  await withAdminClient(adminUrl, async (client) => {
    const from = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : '';
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${from}`);
  });
  return databaseUrlFor(adminUrl, name);
}

/** WITH (FORCE) ends connections a failed run left open, so cleanup never hangs on them. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdminClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
}
