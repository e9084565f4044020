import { randomBytes } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CosmosDouble, startCosmosDouble } from '../../dev/cosmos-double/index.js';
import { migrationQuarantine } from '../../functions/migration-quarantine.js';
import { migrationQuarantineEntry } from '../../functions/migration-quarantine-entry.js';
import { jsonHandler } from '../../functions/support/http-json.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { quarantineBlockers } from '../../shared/quarantine/index.js';
import { closeServices, useServices } from '../../shared/runtime/services.js';
import { getMigrationStats } from '../../shared/stats/migration-stats.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import { runSync } from '../../shared/sync/sync-runner.js';
import { verifyUser } from '../../shared/verification/verify-user.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { quarantineKey } from '../../shared/write-path/quarantine.js';
import { createTestContainer } from '../support/cosmos.js';
import { type Doc, payment } from '../support/document-shapes.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { baseEnv, type Environment, runCli } from '../support/run-cli.js';

/**
 * The operator's desk for the quarantine, against the Cosmos double (plain HTTP, so the command line runs in
 * this process) and PostgreSQL: `migrate:quarantine list` (filters, counts, pages), `show`, `retry` (a fixed and a
 * still-bad document, one gone), `resolve` (recorded, and opened again by a newer version); the HTTP routes; a
 * document deleted in Cosmos closing its entry, by reconcile (LatestVersion) and by the sync in
 * AllVersionsAndDeletes mode, partition keys that are not text included; stats counting open entries by reason.
 * Each test has its own container and database.
 */

let double: CosmosDouble;
let db: TestDatabase;
let container: Container;
let ctx: AppContext;
let env: Environment;
/** Added to the double's clock: versions written after `later()` are at least two seconds newer. */
let offset = 0;

beforeAll(async () => {
  double = await startCosmosDouble({ protocol: 'http', now: () => Date.now() + offset });
});
afterAll(async () => {
  await closeServices();
  await double?.stop();
});
beforeEach(async () => {
  [db, container] = await Promise.all([createTestDatabase(), createTestContainer(double.client)]);
  ctx = { prisma: db.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true', DATABASE_URL: db.url }) };
  env = baseEnv({
    DATABASE_URL: db.url,
    AZURE_COSMOSDB_CONNECTION_STRING: double.connectionString,
    AZURE_COSMOSDB_DATABASE_NAME: container.database.id,
    AZURE_COSMOSDB_CONTAINER_NAME: container.id,
    AZURE_COSMOSDB_ENDPOINT_DISCOVERY: 'false',
    MIGRATION_MODE: 'true',
  });
  return () => db?.drop();
});

const newPubkey = () => randomBytes(32).toString('hex');

function later(): void {
  offset += 2000;
}

/** Writes a document to Cosmos (create or replace) and returns it as Cosmos keeps it. */
async function put(document: Doc): Promise<Doc> {
  const { resource } = await container.items.upsert(document);
  return resource as Doc;
}

async function migrate(...documents: Doc[]): Promise<void> {
  await applyDocuments(db.prisma, documents, { source: 'migration' });
}

function account(pubkey: string, id: string, tier: unknown = 'premium'): Doc {
  return { id, type: 'account', pubkey, tier, subscription: { tier: 'premium' }, created: 1_700_000_000_000 };
}

interface EntryRow {
  key: string;
  status: string;
  reasonCode: string;
  reason: string;
  resolvedBy: string | null;
  resolution: string | null;
  resolvedAt: Date | null;
  closedBy: string | null;
  closedAt: Date | null;
}

async function entry(key: string): Promise<EntryRow | undefined> {
  const { rows } = await db.pool.query<EntryRow>(
    `SELECT "key", "status", "reasonCode", "reason", "resolvedBy", "resolution", "resolvedAt", "closedBy", "closedAt"
     FROM "quarantine" WHERE "key" = $1`,
    [key],
  );
  return rows[0];
}

const quarantineCli = (args: string[], overrides: Environment = {}) => runCli('quarantine', args, { ...env, ...overrides });

/** `list --json` as it prints it. */
interface ListingJson {
  total: number;
  byReason: Record<string, number>;
  entries: Array<{ key: string; standing: string }>;
  next: string | null;
}

async function listJson(args: string[]): Promise<ListingJson> {
  return JSON.parse((await quarantineCli(['list', '--json', ...args])).stdout) as ListingJson;
}

/** Four open entries of every standing: one no table can hold, a competitor, an unknown type, and a version newer than its row. */
async function fourEntries() {
  const first = newPubkey();
  const second = newPubkey();
  const broken = await put({ ...payment(first, `payment-${first.slice(0, 8)}`), lnAmountSat: 'twenty-one' });
  const holder = account(first, `account-${first}`);
  const competitor = account(first, `legacy-${first}`);
  const competitorStored = await put(competitor);
  later();
  const holderStored = await put(holder);
  const prototype = await put({ id: `odd-${second.slice(0, 8)}`, pubkey: second, type: 'prototype-note' });
  const replacedOld = await put(account(second, `account-${second}`));
  await migrate(broken, competitorStored, holderStored, prototype, replacedOld);
  later();
  const replacedNew = await put(account(second, `account-${second}`, 42));
  await migrate(replacedNew);
  return {
    first,
    second,
    broken: quarantineKey(broken),
    competitor: quarantineKey(competitorStored),
    prototype: quarantineKey(prototype),
    replaced: quarantineKey(replacedNew),
  };
}

describe('migrate:quarantine list and show, and the HTTP routes', () => {
  it('lists open entries with counts per reason, filters by type, reason, user, age and status, and pages', async () => {
    const keys = await fourEntries();
    expect((await quarantineCli(['list', '--json'])).code).toBe(0);
    const listing = await listJson([]);
    expect(listing).toMatchObject({ total: 4, byReason: { unmappable: 3, conflict: 1 }, next: null });
    const standings = Object.fromEntries(listing.entries.map((listed) => [listed.key, listed.standing]));
    expect(standings).toEqual({
      [keys.broken]: 'no-table',
      [keys.competitor]: 'waiting-for-row',
      [keys.prototype]: 'no-table',
      [keys.replaced]: 'newer-than-row',
    });
    // Documents are not in a list; `show` gives them.
    expect(listing.entries[0]).not.toHaveProperty('document');

    const count = async (args: string[]) => (await listJson(args)).total;
    expect(await count(['--reason', 'conflict'])).toBe(1);
    expect(await count(['--user', keys.first])).toBe(2);
    expect(await count(['--type', 'payment'])).toBe(1);
    expect(await count(['--type', 'account'])).toBe(2);
    expect(await count(['--type', 'other'])).toBe(1);
    expect(await count(['--newer-than', '1h'])).toBe(4);
    expect(await count(['--older-than', '1h'])).toBe(0);
    expect(await count(['--status', 'resolved'])).toBe(0);
    expect(await count(['--status', 'all', '--user', keys.second, '--reason', 'unmappable'])).toBe(2);

    const firstPage = await listJson(['--limit', '3']);
    expect(firstPage.entries).toHaveLength(3);
    expect(firstPage.total).toBe(4);
    const secondPage = await listJson(['--limit', '3', '--after', firstPage.next ?? '']);
    expect(secondPage).toMatchObject({ next: null });
    const paged = [...firstPage.entries, ...secondPage.entries].map((listed) => listed.key);
    expect(new Set(paged)).toEqual(new Set(Object.keys(standings)));
    expect(paged).toHaveLength(4);

    const human = await quarantineCli(['list', '--limit', '3']);
    expect(human.stdout).toMatch(/^=== Quarantine: open entries ===\nSelected: 4 \((conflict 1, unmappable 3)\)/);
    expect(human.stdout).toContain(`${keys.replaced}\n    account, unmappable; quarantined `);
    expect(human.stdout).toContain('NEWER than the row PostgreSQL serves for it');
    expect(human.stdout).toMatch(/More: npm run migrate:quarantine -- list --limit 3 --after \S+/);

    const bad = await quarantineCli(['list', '--older-than', '2 weeks']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--older-than: expected a whole number and a unit: s, m, h or d');
  });

  it('shows an entry as kept, its reason, and the row it would replace or competes for, with which is newer', async () => {
    const keys = await fourEntries();
    const replaced = JSON.parse((await quarantineCli(['show', keys.replaced, '--json'])).stdout);
    expect(replaced.entry).toMatchObject({ key: keys.replaced, status: 'open', reasonCode: 'unmappable', standing: 'newer-than-row' });
    expect(replaced.entry.document).toMatchObject({ tier: 42 });
    expect(replaced.row).toMatchObject({ relation: 'same-document', table: 'accounts', key: keys.second, entryIsNewer: true });
    expect(replaced.row.document).toMatchObject({ tier: 'premium' });

    const competitor = JSON.parse((await quarantineCli(['show', keys.competitor, '--json'])).stdout);
    expect(competitor.entry).toMatchObject({ reasonCode: 'conflict', competesFor: `accounts:${keys.first}`, standing: 'waiting-for-row' });
    // The holder is the newer of the two accounts.
    expect(competitor.row).toMatchObject({ relation: 'competes-for', table: 'accounts', key: keys.first, entryIsNewer: false });
    expect(competitor.row.document).toMatchObject({ id: `account-${keys.first}` });

    const broken = await quarantineCli(['show', keys.broken]);
    expect(broken.code).toBe(0);
    expect(broken.stdout).toContain(`=== Quarantine entry ${keys.broken} ===\nStatus:      open`);
    expect(broken.stdout).toContain('Row:         none: PostgreSQL holds no row of this document');
    expect(broken.stdout).toContain('"lnAmountSat": "twenty-one"');

    const missing = await quarantineCli(['show', 'nobody/nothing']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No quarantine entry with key "nobody/nothing"');
  });

  it('answers the same over HTTP: the list with its filters (400 for a bad one), one entry (404 for none)', async () => {
    const keys = await fourEntries();
    useServices({ config: ctx.config, prisma: db.prisma, cosmos: container });
    const context = () => new InvocationContext({ functionName: 'test', logHandler: () => undefined });
    // The handlers as registered (`jsonHandler` turns what they throw into the JSON answer).
    const list = async (query: string) =>
      (await jsonHandler(migrationQuarantine)(
        new HttpRequest({ method: 'GET', url: `http://localhost/api/migration/quarantine${query}` }),
        context(),
      )) as HttpResponseInit;
    const show = async (key: string) =>
      (await jsonHandler(migrationQuarantineEntry)(
        new HttpRequest({ method: 'GET', url: 'http://localhost/api/migration/quarantine/x', params: { key } }),
        context(),
      )) as HttpResponseInit;

    const all = await list('');
    expect(all.status).toBe(200);
    expect(all.jsonBody).toMatchObject({ total: 4, byReason: { unmappable: 3, conflict: 1 } });
    const filtered = await list(`?reason=unmappable&user=${keys.second}&newerThan=10m&limit=1`);
    expect(filtered.jsonBody).toMatchObject({ total: 2, entries: [{ key: expect.any(String) }], next: expect.any(String) });
    expect((await list('?olderThan=soon')).status).toBe(400);
    expect((await list('?status=gone')).status).toBe(400);
    expect((await list('?unknown=1')).status).toBe(400);

    const one = await show(keys.replaced);
    expect(one.status).toBe(200);
    expect(one.jsonBody).toMatchObject({ entry: { key: keys.replaced }, row: { entryIsNewer: true } });
    const none = await show('nobody/nothing');
    expect(none).toMatchObject({ status: 404, jsonBody: { code: 'QUARANTINE_ENTRY_NOT_FOUND' } });
    await closeServices();
  });
});

describe('migrate:quarantine retry', () => {
  it("sends each entry's current Cosmos version through the write path: fixed lands, still bad stays with its new reason, gone closes", async () => {
    const pubkey = newPubkey();
    const fixed = await put({ ...payment(pubkey, `payment-fixed-${pubkey.slice(0, 6)}`), lnAmountSat: 'twenty-one' });
    const stillBad = await put({ ...payment(pubkey, `payment-bad-${pubkey.slice(0, 6)}`), lnAmountSat: 'twenty-one' });
    const gone = await put({ ...payment(pubkey, `payment-gone-${pubkey.slice(0, 6)}`), lnAmountSat: 'twenty-one' });
    await migrate(fixed, stillBad, gone);
    later();
    await put({ ...fixed, lnAmountSat: 21_000 });
    await put({ ...stillBad, lnAmountSat: 21_000, priceCents: 'nine ninety-nine' });
    await container.item(gone.id as string, pubkey).delete();

    const keys = [fixed, stillBad, gone].map(quarantineKey);
    const result = await quarantineCli(['retry', ...keys, 'nobody/nothing', '--json']);
    // A document still in the quarantine and a key with no entry: not everything settled.
    expect(result.code).toBe(1);
    const retry = JSON.parse(result.stdout);
    expect(retry.counts).toEqual({ landed: 1, 'still-quarantined': 1, closed: 1, unchanged: 0, unaddressable: 0, 'not-found': 1 });
    expect(retry.entries).toEqual(
      expect.arrayContaining([
        { key: keys[0], outcome: 'landed' },
        { key: keys[1], outcome: 'still-quarantined', reasonCode: 'unmappable', reason: expect.stringContaining('priceCents') },
        { key: keys[2], outcome: 'closed' },
        { key: 'nobody/nothing', outcome: 'not-found' },
      ]),
    );
    expect(retry.requestUnits).toBeGreaterThan(0);

    expect(await entry(keys[0] as string)).toBeUndefined();
    expect((await db.prisma.payment.findUnique({ where: { id: fixed.id as string } }))?.lnAmountSat).toBe(21_000n);
    expect(await entry(keys[1] as string)).toMatchObject({ status: 'open', reason: expect.stringContaining('priceCents') });
    expect(await entry(keys[2] as string)).toMatchObject({ status: 'closed', closedBy: 'retry', closedAt: expect.any(Date) });

    // By filter: the one still open, still bad, stays (exit 1), and nothing else is touched.
    const again = await quarantineCli(['retry', '--user', pubkey, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ 'still-quarantined': 1, landed: 0, closed: 0 });
  });

  it('is refused without MIGRATION_MODE, while PostgreSQL is primary, and with keys and filters together', async () => {
    const noMode = await quarantineCli(['retry'], { MIGRATION_MODE: 'false' });
    expect(noMode.code).toBe(1);
    expect(noMode.stderr).toContain('MIGRATION_MODE=true');
    const primary = await quarantineCli(['retry'], { USE_POSTGRESQL: 'true', DUAL_DATABASE_MODE: 'true' });
    expect(primary.code).toBe(1);
    expect(primary.stderr).toContain('runs only while Cosmos is primary');
    const both = await quarantineCli(['retry', 'a/b', '--reason', 'conflict']);
    expect(both.code).toBe(2);
  });
});

describe('migrate:quarantine resolve', () => {
  it('records who, when and why; the entry leaves the open set, stats and verification; a newer version opens it again', async () => {
    const keys = await fourEntries();
    // The reproduction: PostgreSQL keeps the old row of an account Cosmos replaced with a version no table can hold.
    const differs = await runCli('migrate', ['verify', keys.second], env);
    expect(differs.code).toBe(1);
    expect(differs.stdout).toMatch(/Result: 1 DIFFERENCE\n/);
    expect(differs.stdout).toContain(`Accounts account-${keys.second}: PostgreSQL serves an older version`);
    expect(differs.stdout).toContain(`npm run migrate:quarantine -- show ${keys.replaced};`);

    expect((await quarantineCli(['resolve', keys.replaced, '--by', 'alice'])).code).toBe(2);
    const refused = await quarantineCli(['resolve', keys.replaced, '--note', 'ok'], { MIGRATION_MODE: 'false' });
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('MIGRATION_MODE=true') });

    const before = Date.now();
    const resolved = await quarantineCli([
      'resolve',
      keys.replaced,
      keys.replaced,
      '--note',
      'legacy tier, accepted',
      '--by',
      'alice',
      '--json',
    ]);
    expect(resolved.code).toBe(0);
    expect(JSON.parse(resolved.stdout)).toEqual({ by: 'alice', resolved: [keys.replaced], notOpen: [], notFound: [], mirrored: 0 });
    const recorded = await entry(keys.replaced);
    expect(recorded).toMatchObject({ status: 'resolved', resolvedBy: 'alice', resolution: 'legacy tier, accepted' });
    expect(recorded?.resolvedAt?.getTime()).toBeGreaterThanOrEqual(before - 1000);

    const stats = await getMigrationStats(ctx);
    expect(stats).toMatchObject({
      quarantined: 3,
      quarantinedByReason: { unmappable: 2, conflict: 1 },
      quarantineSettled: { resolved: 1, closed: 0 },
    });
    expect((await listJson(['--status', 'resolved'])).entries.map((listed) => listed.key)).toEqual([keys.replaced]);
    // Accepted: listed with the resolution, and no longer a difference.
    const user = await verifyUser(ctx, keys.second);
    expect(user.consistent).toBe(true);
    expect(await runCli('migrate', ['verify', keys.second], env)).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('Result: CONSISTENT (1 quarantined)'),
    });
    expect(user.differences).toContainEqual(
      expect.objectContaining({ kind: 'quarantined', reason: expect.stringContaining('resolved by alice') }),
    );

    // Again: already resolved, left alone; an unknown key fails the command.
    const twice = await quarantineCli(['resolve', keys.replaced, 'nobody/nothing', '--note', 'again', '--json']);
    expect(twice.code).toBe(1);
    expect(JSON.parse(twice.stdout)).toMatchObject({
      resolved: [],
      notOpen: [{ key: keys.replaced, status: 'resolved' }],
      notFound: ['nobody/nothing'],
    });

    // The same version read again leaves it resolved; a newer bad version is a new problem.
    const current = (await container.item(`account-${keys.second}`, keys.second).read<Doc>()).resource as Doc;
    await migrate(current);
    expect(await entry(keys.replaced)).toMatchObject({ status: 'resolved' });
    later();
    await migrate(await put(account(keys.second, `account-${keys.second}`, 43)));
    expect(await entry(keys.replaced)).toMatchObject({ status: 'open', resolvedBy: null, resolution: null, resolvedAt: null });
  });
});

describe('a document deleted in Cosmos closes its entry, recorded, not erased', () => {
  /** Unmappable documents whose partition key is text, a number, null, and none at all: the last three are keyed by a hash. */
  async function fourKinds(): Promise<Doc[]> {
    const pubkey = newPubkey();
    const { pubkey: _none, ...withoutPubkey } = payment('x', `none-${pubkey.slice(0, 8)}`);
    return [
      await put({ ...payment(pubkey, `payment-${pubkey.slice(0, 8)}`), lnAmountSat: 'twenty-one' }),
      await put({ ...payment('x', `numeric-${pubkey.slice(0, 8)}`), pubkey: 12345 }),
      await put({ ...payment('x', `null-${pubkey.slice(0, 8)}`), pubkey: null }),
      await put(withoutPubkey),
    ];
  }

  /** Deletes a document in Cosmos, whatever its partition key (`{}`: the SDK's "none"). */
  async function remove(document: Doc): Promise<void> {
    const partitionKey = 'pubkey' in document ? (document.pubkey as string | number | null) : {};
    await container.item(document.id as string, partitionKey as string).delete();
  }

  it('LatestVersion: a reconcile pass sweeps the open entries; a dry run counts, --apply closes', async () => {
    const documents = await fourKinds();
    await migrate(...documents);
    const keys = documents.map(quarantineKey);
    expect(keys.filter((key) => key.startsWith('sha256:'))).toHaveLength(3);
    const kept = await put({ ...payment(newPubkey(), 'payment-kept'), lnAmountSat: 'still here' });
    await migrate(kept);
    for (const document of documents) await remove(document);

    const dry = await reconcile(ctx, {});
    expect(dry.quarantine).toMatchObject({ checked: 5, gone: 4, closed: 0, unaddressable: 0 });
    for (const key of keys) expect(await entry(key)).toMatchObject({ status: 'open' });

    const applied = await runCli('migrate', ['reconcile', '--apply', '--json'], env);
    expect(applied.code).toBe(0);
    const pass = JSON.parse(applied.stdout);
    expect(pass.quarantine).toMatchObject({ checked: 5, gone: 4, closed: 4 });
    for (const key of keys) {
      expect(await entry(key)).toMatchObject({ status: 'closed', closedBy: `reconcile ${pass.passId}`, closedAt: expect.any(Date) });
    }
    expect(await entry(quarantineKey(kept))).toMatchObject({ status: 'open' });
    expect(await getMigrationStats(ctx)).toMatchObject({ quarantined: 1, quarantineSettled: { resolved: 0, closed: 4 } });

    // A late copy of a deleted version does not open its entry again.
    await migrate(...documents);
    for (const key of keys) expect(await entry(key)).toMatchObject({ status: 'closed' });
  });

  it('AllVersionsAndDeletes: the sync closes the entries of the deletes it applies, whatever the partition key', async () => {
    await runSync(ctx, { mode: 'AllVersionsAndDeletes', start: { from: 'now' }, once: true });
    const documents = await fourKinds();
    await runSync(ctx, { mode: 'AllVersionsAndDeletes', once: true });
    const keys = documents.map(quarantineKey);
    for (const key of keys) expect(await entry(key)).toMatchObject({ status: 'open' });

    for (const document of documents) await remove(document);
    const synced = await runSync(ctx, { mode: 'AllVersionsAndDeletes', once: true });
    expect(synced.changes).toBe(4);
    for (const key of keys) expect(await entry(key)).toMatchObject({ status: 'closed', closedBy: 'sync', closedAt: expect.any(Date) });
    expect(await getMigrationStats(ctx)).toMatchObject({ quarantined: 0, quarantineSettled: { closed: 4 } });
  });
});

describe('what blocks a switch', () => {
  it('counts the open entries newer than their row or waiting for one, per reason, with a few keys', async () => {
    const keys = await fourEntries();
    // Another writer's reason code (the switch records `diverged`): no row, so it waits for one.
    await db.pool.query(
      `INSERT INTO quarantine ("key", "documentId", "pubkey", "type", "document", "reason", "reasonCode", "source", "cosmosTs")
       VALUES ('p/x', 'x', 'p', 'payment', '{"id":"x","pubkey":"p"}', 'written in Cosmos while PostgreSQL was primary', 'diverged', 'sync', 1)`,
    );
    const blockers = await quarantineBlockers(db.prisma);
    expect(blockers).toEqual({
      count: 3,
      byReason: { unmappable: 1, conflict: 1, diverged: 1 },
      byStanding: { 'newer-than-row': 1, 'waiting-for-row': 2 },
      examples: expect.arrayContaining([keys.competitor, keys.replaced, 'p/x']),
    });
    expect(blockers.examples).toHaveLength(3);
    await quarantineCli(['resolve', keys.replaced, '--note', 'accepted']);
    expect((await quarantineBlockers(db.prisma)).count).toBe(2);
  });
});
