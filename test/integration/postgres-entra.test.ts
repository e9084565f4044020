import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withAdminClient } from '../../dev/local-services/database-admin.js';
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from '../../dev/local-services/embedded-postgres.js';
import { type PostgresCredentials, postgresCredentialsFor } from '../../shared/postgres/entra-credentials.js';
import { postgresEntraScope } from '../../shared/postgres/entra-token.js';
import { applyMigrations } from '../../shared/postgres/migration-applier.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/*
 * DATABASE_AUTH=entra against a real PostgreSQL that asks for passwords (an embedded server, whose
 * pg_hba requires one): the app's pool (Prisma on the pg adapter) and the migration applier send the
 * token a credential gives as the password.
 *
 * The credential is a DOUBLE, and the only one: Microsoft Entra ID cannot be reached from here, so the
 * boundary the app crosses to get a token (@azure/identity's TokenCredential.getToken) is replaced by an
 * object that records each request and hands out tokens the test has made the database role's
 * password. Everything behind that boundary is the real code and a real server.
 */

const minute = 60_000;

/** Stands in for ManagedIdentityCredential: records each request and answers with the next token. */
class CredentialDouble implements TokenCredential {
  readonly requests: Array<{ scopes: string | string[]; at: number }> = [];
  private readonly tokens: AccessToken[] = [];

  constructor(private readonly clock: { now(): number }) {}

  /** The token the next request gets. */
  willIssue(token: string, lifetimeMs: number): void {
    this.tokens.push({ token, expiresOnTimestamp: this.clock.now() + lifetimeMs });
  }

  getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
    this.requests.push({ scopes, at: this.clock.now() });
    const token = this.tokens.shift();
    return token ? Promise.resolve(token) : Promise.reject(new Error('the double has no token to issue'));
  }
}

/** A clock the test moves; nothing here waits on real time. */
function pinnedClock(start: number) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

let server: EmbeddedPostgresServer;
let databaseUrl: string;
const role = `entra_app_${randomBytes(4).toString('hex')}`;

/** Makes `password` the role's password: the token the server will accept next. */
const acceptOnly = (password: string) =>
  withAdminClient(server.adminUrl, async (client) => {
    await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${client.escapeLiteral(password)}`);
  });

beforeAll(async () => {
  server = await startEmbeddedPostgres();
  databaseUrl = await server.createDatabase('entra');
  await withAdminClient(server.adminUrl, async (client) => {
    await client.query(`CREATE ROLE ${client.escapeIdentifier(role)} LOGIN`);
    await client.query(`GRANT ALL ON DATABASE entra TO ${client.escapeIdentifier(role)}`);
  });
  await withAdminClient(databaseUrl, async (client) => {
    await client.query(`GRANT CREATE ON SCHEMA public TO ${client.escapeIdentifier(role)}`);
  });
});

afterAll(async () => {
  await server?.stop();
});

/** DATABASE_URL as Azure sets it with DATABASE_AUTH=entra: the role, no password. */
function roleUrl(): string {
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = '';
  return url.toString();
}

describe('the app pool with DATABASE_AUTH=entra', () => {
  it('asks the credential for a token for the PostgreSQL audience and signs in with it', async () => {
    const clock = pinnedClock(Date.UTC(2026, 0, 1));
    const credential = new CredentialDouble(clock);
    const token = `token-${randomBytes(6).toString('hex')}`;
    await acceptOnly(token);
    credential.willIssue(token, 60 * minute);
    const prisma = createPrismaClient(roleUrl(), 1, { kind: 'entra', credential, clock });
    try {
      expect(await prisma.$queryRaw<Array<{ user: string }>>`SELECT current_user AS user`).toEqual([{ user: role }]);
      expect(credential.requests).toEqual([{ scopes: 'https://ossrdbms-aad.database.windows.net/.default', at: clock.now() }]);
      expect(postgresEntraScope).toBe('https://ossrdbms-aad.database.windows.net/.default');
    } finally {
      await prisma.$disconnect();
    }
  });

  it('reuses a fresh token for new connections and fetches a new one before the old one expires', async () => {
    const clock = pinnedClock(Date.UTC(2026, 0, 1));
    const credential = new CredentialDouble(clock);
    const first = `first-${randomBytes(6).toString('hex')}`;
    const second = `second-${randomBytes(6).toString('hex')}`;
    credential.willIssue(first, 60 * minute);
    await acceptOnly(first);
    const prisma = createPrismaClient(roleUrl(), 1, { kind: 'entra', credential, clock });
    const whoAmI = () => prisma.$queryRaw<Array<{ user: string }>>`SELECT current_user AS user`;
    try {
      await whoAmI();
      // A new pool on the same client (after $disconnect) opens a new connection: 30 minutes on, the
      // first token is still fresh, so no new request.
      await prisma.$disconnect();
      clock.advance(30 * minute);
      await whoAmI();
      expect(credential.requests).toHaveLength(1);

      // 56 minutes after it was issued the first token still has 4 minutes, inside the 5-minute refresh
      // margin: the next connection gets a new token. The server now accepts only the new one, so the
      // query succeeding proves the new token was sent.
      credential.willIssue(second, 60 * minute);
      await acceptOnly(second);
      await prisma.$disconnect();
      clock.advance(26 * minute);
      await expect(whoAmI()).resolves.toEqual([{ user: role }]);
      expect(credential.requests).toHaveLength(2);
      expect(credential.requests[1]).toEqual({ scopes: postgresEntraScope, at: Date.UTC(2026, 0, 1) + 56 * minute });
    } finally {
      await prisma.$disconnect();
    }
  });

  it('fails the query with the reason when no token can be had, never with a password', async () => {
    const clock = pinnedClock(Date.UTC(2026, 0, 1));
    const credential = new CredentialDouble(clock);
    const prisma = createPrismaClient(roleUrl(), 1, { kind: 'entra', credential, clock });
    try {
      await expect(prisma.$queryRaw`SELECT 1`).rejects.toThrow(/Microsoft Entra token for PostgreSQL/);
    } finally {
      await prisma.$disconnect();
    }
  });

  it('is what DATABASE_AUTH=entra gives the app in Azure: its managed identity by client id', () => {
    const credentials = postgresCredentialsFor({ kind: 'entra', clientId: '0b1c2d3e-aaaa-bbbb-cccc-123456789abc' });
    expect(credentials.kind).toBe('entra');
    expect((credentials as Extract<PostgresCredentials, { kind: 'entra' }>).credential).toMatchObject({
      kind: 'ManagedIdentityCredential',
    });
    expect(postgresCredentialsFor({ kind: 'password' })).toEqual({ kind: 'urlPassword' });
  });
});

describe('the migration applier with DATABASE_AUTH=entra', () => {
  it('applies migrations signed in with a token (as `npm run db:migrate` does)', async () => {
    const clock = pinnedClock(Date.UTC(2026, 0, 1));
    const credential = new CredentialDouble(clock);
    const token = `migrate-${randomBytes(6).toString('hex')}`;
    credential.willIssue(token, 60 * minute);
    await acceptOnly(token);
    const dir = await mkdtemp(path.join(tmpdir(), 'entra-migrations-'));
    try {
      await mkdir(path.join(dir, '20260101000000_probe'));
      await writeFile(path.join(dir, '20260101000000_probe', 'migration.sql'), 'CREATE TABLE entra_probe (id int);');
      const result = await applyMigrations(roleUrl(), { migrationsDir: dir, credentials: { kind: 'entra', credential, clock } });
      expect(result.applied).toEqual(['20260101000000_probe']);
      expect(credential.requests.map((request) => request.scopes)).toEqual([postgresEntraScope]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/*
 * infra/sql/grant-app-privileges.sql on this run's PostgreSQL (the migrated schema): the app's role can
 * do what the app does (read and write rows) and nothing that changes the schema.
 */
describe('the app role infra/sql/ grants', () => {
  let db: TestDatabase;
  const appRole = `app_${randomBytes(4).toString('hex')}`;
  let asApp: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    const adminUrl = inject('postgresAdminUrl');
    await withAdminClient(adminUrl, (client) =>
      client.query(`CREATE ROLE ${client.escapeIdentifier(appRole)} LOGIN PASSWORD 'app-only-in-this-test'`),
    );
    const script = await readFile(new URL('../../infra/sql/grant-app-privileges.sql', import.meta.url), 'utf8');
    await withAdminClient(db.url, async (client) => {
      await client.query(psqlVariables(script, { app_role: appRole, database: new URL(db.url).pathname.slice(1) }, client));
    });
    const url = new URL(db.url);
    url.username = appRole;
    url.password = 'app-only-in-this-test';
    asApp = new pg.Client({ connectionString: url.toString() });
    await asApp.connect();
  });

  afterAll(async () => {
    await asApp?.end().catch(() => undefined);
    await db?.drop();
    await withAdminClient(inject('postgresAdminUrl'), (client) => client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(appRole)}`));
  });

  it('reads, inserts, updates and deletes rows of every app table, and nothing of the migration ledger', async () => {
    const { rows: tables } = await asApp.query<{ table: string; dml: boolean }>(
      `SELECT tablename AS table,
              has_table_privilege(current_user, format('public.%I', tablename), 'SELECT, INSERT, UPDATE, DELETE') AS dml
         FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`,
    );
    expect(tables.length).toBeGreaterThan(5);
    expect(tables.filter((table) => !table.dml).map((table) => table.table)).toEqual([]);
    const key = `probe-${randomBytes(4).toString('hex')}`;
    await asApp.query(`INSERT INTO quarantine (key, document, reason, source) VALUES ($1, '{}', 'probe', 'test')`, [key]);
    await asApp.query('UPDATE quarantine SET reason = $2 WHERE key = $1', [key, 'probe again']);
    const { rows } = await asApp.query<{ reason: string }>('SELECT reason FROM quarantine WHERE key = $1', [key]);
    expect(rows).toEqual([{ reason: 'probe again' }]);
    await asApp.query('DELETE FROM quarantine WHERE key = $1', [key]);
    await expect(asApp.query('SELECT count(*) FROM _prisma_migrations')).rejects.toThrow(/permission denied/);
  });

  it('changes no schema: no CREATE, ALTER, DROP or TRUNCATE', async () => {
    for (const statement of [
      'CREATE TABLE app_made (id int)',
      'ALTER TABLE accounts ADD COLUMN app_made int',
      'DROP TABLE pending_sync',
      'TRUNCATE quarantine',
    ]) {
      await expect(asApp.query(statement), statement).rejects.toThrow(/permission denied|must be owner/);
    }
  });
});

/** psql's `:"name"` (identifier) and `:'name'` (literal) variables, as `psql -v name=value` fills them. */
function psqlVariables(script: string, values: Record<string, string>, client: pg.Client): string {
  return script
    .replace(/:"(\w+)"/g, (_, name: string) => client.escapeIdentifier(valueOf(values, name)))
    .replace(/:'(\w+)'/g, (_, name: string) => client.escapeLiteral(valueOf(values, name)));
}

function valueOf(values: Record<string, string>, name: string): string {
  const value = values[name];
  if (value === undefined) throw new Error(`psql variable ${name} is not set`);
  return value;
}
