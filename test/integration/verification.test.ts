import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { type ColumnKind, sqlTypeOf } from '../../shared/domain/fields.js';
import { normalizeDocument, systemProperties } from '../../shared/domain/mapping.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import {
  type DocumentDifference,
  formatFullVerificationReport,
  formatVerificationReport,
  REDACTED,
  type VerifyAllProgress,
  verifyAccountMigration,
  verifyAll,
  verifyUser,
} from '../../shared/verification/index.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { type CosmosTestServer, createTestContainer, readAllDocuments, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

type Doc = Record<string, unknown>;

/**
 * 120 users (about 1,500 documents) give a rich document for every planted field, and pages of
 * {@link pageSize} give every type two pages or more in the whole-container pass. The Cosmos-protocol
 * server scans the whole container for each query, so the size of the dataset is what this file costs.
 */
const USERS = 120;
const pageSize = 43;

let db: TestDatabase;
let cosmos: CosmosTestServer;
let container: Container;
let ctx: Pick<AppContext, 'prisma' | 'cosmos' | 'config'>;
/** Every loaded document as Cosmos returned it (system properties included), by type. */
const loaded = new Map<DocumentType, Doc[]>();

beforeAll(async () => {
  [db, cosmos] = await Promise.all([createTestDatabase(), startCosmosServer()]);
  container = await createTestContainer(cosmos.client);
  ctx = { prisma: db.prisma, cosmos: container, config: loadConfig({}) };
  expect((await loadDocuments(container, [...generateDataset({ users: USERS, seed: 7, messy: true })])).refused).toEqual([]);
  const stored = await readAllDocuments<Doc>(container);
  for (const document of stored) {
    const type = documentTypeOf(document.type);
    if (type) loaded.set(type, [...(loaded.get(type) ?? []), document]);
  }
  const result = await applyDocuments(db.prisma, stored, { source: 'migration' });
  expect(result.failed).toBe(0);
  expect(result.quarantined).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([db?.drop(), cosmos?.stop()]);
});

describe('a dataset migrated in full', () => {
  it('verifies consistent, user by user and as a whole', async () => {
    const progress: VerifyAllProgress[] = [];
    const report = await verifyAll(ctx, { pageSize, onProgress: (event) => progress.push(event) });

    expect(report.consistent).toBe(true);
    for (const type of documentTypeNames) {
      const expected = loaded.get(type)?.length ?? 0;
      expect(expected, type).toBeGreaterThan(0);
      expect(report.types[type], type).toMatchObject({
        cosmos: expected,
        postgres: expected,
        compared: expected,
        matching: expected,
        missingInPostgres: 0,
        missingInCosmos: 0,
        different: 0,
        quarantined: 0,
      });
    }
    // Every range done, every document read and every row matched once.
    const documents = [...loaded.values()].reduce((sum, list) => sum + list.length, 0);
    expect(progress.at(-1)).toMatchObject({ rangesDone: 4, ranges: 4, rows: documents, total: documents });
    expect(report.reads).toMatchObject({ ranges: 4, documents: documents + report.otherTypes.cosmos });
    expect(report.reads.requestUnits).toBeGreaterThan(0);
    expect(report.repair).toBeNull();
    expect(formatFullVerificationReport(report)).toMatch(/^=== Verification: all documents ===\nResult: CONSISTENT\n/);

    const pubkeys = [...new Set((loaded.get('payment') ?? []).map((document) => String(document.pubkey)))].slice(0, 25);
    for (const pubkey of pubkeys) {
      const user = await verifyUser(ctx, pubkey);
      expect(user.differences, pubkey).toEqual([]);
      expect(user.consistent).toBe(true);
      for (const type of documentTypeNames) {
        const expected = documentsOf(type).filter((document) => document.pubkey === pubkey).length;
        expect(user.checked[type], `${pubkey} ${type}`).toEqual({ cosmos: expected, postgres: expected });
      }
      expect(await verifyAccountMigration(ctx, pubkey)).toBe(true);
    }
  });

  it('treats a null modeled field as absent, as the mapping does, but keeps unmodeled nulls', async () => {
    // Flip null <-> absent for every optional modeled field of one document per type, in Cosmos only.
    const flipped: Array<{ original: Doc; changed: Doc }> = [];
    for (const type of documentTypeNames) {
      // Absent fields become null (the direction that needs the rule), and nulls absent where the document has some.
      const columns = optionalColumns(type);
      const hasAbsent = (document: Doc) => columns.some((column) => document[column] === undefined);
      const hasNull = (document: Doc) => columns.some((column) => document[column] === null);
      const original =
        documentsOf(type).find((document) => hasAbsent(document) && hasNull(document)) ??
        pick(type, hasAbsent, `${type} with an absent optional field`);
      const changed = withoutSystemProperties(original);
      for (const column of optionalColumns(type)) {
        if (changed[column] === null) delete changed[column];
        else if (changed[column] === undefined) changed[column] = null;
      }
      flipped.push({ original, changed });
      await container.items.upsert(changed);
    }
    try {
      for (const { changed } of flipped) {
        expect((await verifyUser(ctx, String(changed.pubkey))).differences, String(changed.type)).toEqual([]);
      }
      expect((await verifyAll(ctx)).consistent).toBe(true);

      // An unmodeled field is kept as it is, null included, so dropping it is a real difference.
      const withNullExtra = documentTypeNames.flatMap(documentsOf).find((document) => document.deletedAt === null);
      if (!withNullExtra) throw new Error('the dataset has no document with an unmodeled null');
      const { deletedAt: _dropped, ...withoutIt } = withoutSystemProperties(withNullExtra);
      await container.items.upsert(withoutIt);
      const report = await verifyUser(ctx, String(withNullExtra.pubkey));
      expect(report.differences).toEqual([
        { type: documentTypeOf(withNullExtra.type), id: withNullExtra.id, kind: 'different', path: 'deletedAt', postgres: null },
      ]);
      await container.items.upsert(withoutSystemProperties(withNullExtra));
    } finally {
      for (const { original } of flipped) await container.items.upsert(withoutSystemProperties(original));
    }
  });
});

/** One planted difference: which row, what was changed there, and the finding it must produce. */
interface Planted {
  type: DocumentType;
  document: Doc;
  expected: DocumentDifference;
}

describe('planted differences', () => {
  const planted: Planted[] = [];
  /** Each changed row as migrated and as planted: repair puts back the first, the tests after these need it too. */
  const rows: Array<{ table: string; id: string; migrated: string; planted: string }> = [];

  afterAll(async () => {
    for (const { table, id, migrated } of rows) await putRow(table, id, migrated);
  });

  beforeAll(async () => {
    // Every modeled column of every type, the stored `type` where there is one, and an unmodeled
    // field: each on its own document, so one verification run has to find them all.
    const used = new Set<string>();
    for (const type of documentTypeNames) {
      const descriptor = documentTypes[type];
      const fields: Array<[string, ColumnKind | 'extra']> = [
        ...Object.entries(descriptor.columns),
        ...(descriptor.storesType ? [['type', 'text'] as [string, ColumnKind]] : []),
        ['extra', 'extra'],
      ];
      for (const [field, kind] of fields) {
        const document = pick(type, (candidate) => !used.has(String(candidate.id)) && richFor(field, candidate), `${type} for ${field}`);
        used.add(String(document.id));
        const table = documentTypes[type].table;
        const id = String(document.id);
        const migrated = await readRow(table, id);
        planted.push(await plantInPostgres(type, document, field, kind));
        rows.push({ table, id, migrated, planted: await readRow(table, id) });
      }
    }
  });

  it('finds each one, with its path, in the per-user report', async () => {
    expect(planted.length).toBeGreaterThan(50);
    for (const { type, document, expected } of planted) {
      const report = await verifyUser(ctx, String(document.pubkey));
      expect(report.consistent).toBe(false);
      expect(await verifyAccountMigration(ctx, String(document.pubkey))).toBe(false);
      expect(
        report.differences.filter((difference) => difference.id === document.id),
        `${type} ${expected.path}`,
      ).toEqual([expected]);
    }
    // The example the data model gives: one feature in an account's entitlements.
    expect(planted.map(({ expected }) => expected.path)).toContain('subscription.entitlements.features[1]');
  });

  it('never shows a secret, in the report or in its text', async () => {
    const secrets = planted.filter(({ type, expected }) =>
      documentTypes[type].secretFields.some((field) => expected.path?.startsWith(field)),
    );
    expect(secrets.map(({ expected }) => expected.path)).toEqual(
      expect.arrayContaining(['xAccessToken', 'xAccessSecret', 'xRequestToken', 'xRequestSecret', 'subscription.keys.auth']),
    );
    for (const { type, document, expected } of secrets) {
      expect(expected.postgres, `${type} ${expected.path}`).toBe(REDACTED);
      const report = await verifyUser(ctx, String(document.pubkey));
      const shown = JSON.stringify(report) + formatVerificationReport(report);
      expect(shown).toContain(REDACTED);
      expect(shown).not.toContain('planted-secret');
      const original = valueAt(normalizeDocument(document), expected.path ?? '');
      if (typeof original === 'string') expect(shown).not.toContain(original);
    }
  });

  it('finds them all in the whole-container pass, and repair makes the next pass clean', async () => {
    const found = await verifyAll(ctx, { pageSize, maxListed: 1000 });
    expect(found.consistent).toBe(false);
    expect(found.different.count).toBe(planted.length);
    expect(found.missingInPostgres.count + found.missingInCosmos.count + found.quarantined.count).toBe(0);
    for (const { type, document, expected } of planted) {
      const listed = found.different.listed.find((entry) => entry.id === document.id);
      expect(listed, `${type} ${expected.path}`).toEqual({ type, id: document.id, pubkey: document.pubkey, paths: [expected.path] });
    }
    for (const type of documentTypeNames) {
      expect(found.types[type].different).toBe(planted.filter((entry) => entry.type === type).length);
    }
    expect(JSON.stringify(found) + formatFullVerificationReport(found)).not.toContain('planted-secret');

    try {
      const repaired = await verifyAll(ctx, { repair: true, pageSize });
      expect(repaired.different.count).toBe(planted.length);
      expect(repaired.repair).toMatchObject({ attempted: planted.length, written: planted.length, failed: 0, quarantined: 0 });

      const after = await verifyAll(ctx, { pageSize });
      expect(after.consistent).toBe(true);
      expect(after.different.count).toBe(0);
      for (const { document } of planted) {
        expect((await verifyUser(ctx, String(document.pubkey))).differences).toEqual([]);
      }
    } finally {
      // Planted again, whatever the repair did: the other tests here find them whatever the order.
      for (const { table, id, planted: row } of rows) await putRow(table, id, row);
    }
  });
});

describe('a row that claims a newer version than Cosmos', () => {
  it('is reported as different, left alone by repair, and the report says why', async () => {
    const payment = pick('payment', (document) => typeof document.modified === 'number');
    const modified = payment.modified as number;
    const migrated = await readRow('payments', String(payment.id));
    // Same `_ts` as the document has in Cosmos now (another test may have rewritten it there), a later `modified`.
    const { resource } = await container.item(String(payment.id), String(payment.pubkey)).read<Doc>();
    await db.pool.query('UPDATE payments SET modified = $1, "cosmosTs" = $2 WHERE id = $3', [modified + 60_000, resource?._ts, payment.id]);
    try {
      const report = await verifyAll(ctx, { repair: true });
      expect(report.different).toEqual({
        count: 1,
        listed: [{ type: 'payment', id: payment.id, pubkey: payment.pubkey, paths: ['modified'] }],
      });
      expect(report.repair).toMatchObject({ attempted: 1, written: 0, unchanged: 1 });
      expect(report.notes.join(' ')).toMatch(/1 document\(s\) were not rewritten/);
      const after = await verifyUser(ctx, String(payment.pubkey));
      expect(after.differences).toEqual([
        { type: 'payment', id: payment.id, kind: 'different', path: 'modified', cosmos: modified, postgres: modified + 60_000 },
      ]);
    } finally {
      await putRow('payments', String(payment.id), migrated);
    }
  });
});

describe('documents on one side only', () => {
  it('tells missing in PostgreSQL, missing in Cosmos and quarantined apart, and repairs only what it may', async () => {
    const payment = pick('payment', () => true);
    const log = pick('notification-log', () => true);
    const pubkey = String(payment.pubkey);

    // Missing in PostgreSQL: the row is gone.
    await db.pool.query('DELETE FROM payments WHERE id = $1', [payment.id]);
    // Missing in Cosmos: a row for a document Cosmos never had (as if deleted there after migrating).
    const ghost = { ...withoutSystemProperties(log), id: `${String(log.id)}-ghost`, pubkey, _ts: 1_750_000_000 };
    expect((await applyDocuments(db.prisma, [ghost], { source: 'migration' })).written).toBe(1);
    // Quarantined: a document in Cosmos that cannot be mapped.
    const broken = { ...withoutSystemProperties(payment), id: `${String(payment.id)}-broken`, lnAmountSat: '21000' };
    const { resource: storedBroken } = await container.items.create(broken);
    expect((await applyDocuments(db.prisma, [storedBroken], { source: 'migration' })).quarantined).toBe(1);

    const report = await verifyUser(ctx, pubkey);
    expect(report.consistent).toBe(false);
    expect(report.quarantined).toBe(1);
    expect(report.differences).toEqual(
      expect.arrayContaining([
        { type: 'payment', id: payment.id, kind: 'missing-in-postgres' },
        { type: 'notification-log', id: ghost.id, kind: 'missing-in-cosmos' },
        {
          type: 'payment',
          id: broken.id,
          kind: 'quarantined',
          reason: expect.stringContaining('lnAmountSat'),
          reasonCode: 'unmappable',
          key: `${pubkey}/${broken.id}`,
        },
      ]),
    );
    expect(report.differences).toHaveLength(3);
    expect(formatVerificationReport(report)).toContain(`Payments ${broken.id}: quarantined (`);

    const found = await verifyAll(ctx, { repair: true, pageSize: 61 });
    expect(found.consistent).toBe(false);
    expect(found.missingInPostgres).toEqual({ count: 1, listed: [{ type: 'payment', id: payment.id, pubkey }] });
    expect(found.missingInCosmos).toEqual({ count: 1, listed: [{ type: 'notification-log', id: ghost.id, pubkey }] });
    expect(found.quarantined).toEqual({
      count: 1,
      listed: [{ type: 'payment', id: broken.id, pubkey, reason: expect.stringContaining('lnAmountSat') }],
    });
    expect(found.different.count).toBe(0);
    expect(found.repair).toMatchObject({ attempted: 1, written: 1, failed: 0 });
    expect(found.notes.join(' ')).toMatch(/candidates for reconcile: .*--repair did not delete them/);
    const text = formatFullVerificationReport(found);
    expect(text).toContain(`Missing in PostgreSQL: 1\n  Payments ${String(payment.id)} [${pubkey}]`);
    expect(text).toContain(`Missing in Cosmos: 1\n  Notification Logs ${ghost.id} [${pubkey}]`);
    expect(text).toMatch(/Repair: 1 migrated again: 1 written/);
    expect(text).toMatch(/Note: Rows missing in Cosmos are candidates for reconcile/);
    expect(text).toContain('npm run migrate:reconcile -- --apply');

    // Repair brought the payment back and left the PostgreSQL-only row alone.
    const again = await verifyAll(ctx, { pageSize: 61 });
    expect(again.missingInPostgres.count).toBe(0);
    expect(again.missingInCosmos.listed.map((entry) => entry.id)).toEqual([ghost.id]);
    expect((await db.pool.query('SELECT 1 FROM notification_logs WHERE id = $1', [ghost.id])).rowCount).toBe(1);

    expect(again.notes.join(' ')).toMatch(/Verification never deletes them/);

    // With the ghost row removed by reconcile, quarantined documents alone do not make it inconsistent.
    expect(await reconcile({ ...ctx, config: loadConfig({ MIGRATION_MODE: 'true' }) }, { apply: true })).toMatchObject({
      confirmed: 1,
      removed: 1,
    });
    const clean = await verifyAll(ctx, { pageSize: 61 });
    expect(clean.consistent).toBe(true);
    expect(clean.quarantined.count).toBe(1);
    expect(await verifyAccountMigration(ctx, pubkey)).toBe(true);

    await container.item(broken.id, pubkey).delete();
    await db.pool.query('DELETE FROM quarantine WHERE "documentId" = $1', [broken.id]);
  });
});

/** A row as JSON text (every column, numbers exact), read without the code under test. */
async function readRow(table: string, id: string): Promise<string> {
  const { rows } = await db.pool.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM "${table}" t WHERE id = $1`, [id]);
  if (rows.length !== 1) throw new Error(`${table} has no row ${id}`);
  return rows[0]!.row;
}

/** Replaces the row with `row` (as {@link readRow} gave it), exactly. */
async function putRow(table: string, id: string, row: string): Promise<void> {
  await db.pool.query(`DELETE FROM "${table}" WHERE id = $1`, [id]);
  await db.pool.query(`INSERT INTO "${table}" SELECT * FROM jsonb_populate_record(NULL::"${table}", $1::jsonb)`, [row]);
}

function documentsOf(type: DocumentType): Doc[] {
  return loaded.get(type) ?? [];
}

function pick(type: DocumentType, accept: (document: Doc) => boolean, what: string = type): Doc {
  const found = documentsOf(type).find(accept);
  if (!found) throw new Error(`the dataset has no ${what}`);
  return found;
}

function optionalColumns(type: DocumentType): string[] {
  const shape = documentTypes[type].schema.shape as Record<string, { safeParse(value: unknown): { success: boolean } }>;
  return Object.keys(documentTypes[type].columns).filter((column) => shape[column]?.safeParse(null).success);
}

function withoutSystemProperties(document: Doc): Doc {
  const copy = structuredClone(document);
  for (const property of systemProperties) delete copy[property];
  return copy;
}

/** Prefers documents where the field has something to descend into, so paths go deep. */
function richFor(field: string, document: Doc): boolean {
  if (field === 'extra') return true;
  const value = document[field];
  if (field === 'subscription' || field === 'metadata' || field === 'filters' || field === 'settings') {
    return value !== null && typeof value === 'object' && Object.keys(value).length > 0;
  }
  return value !== undefined && value !== null;
}

/** Changes one field of the document's row in PostgreSQL (parameterised UPDATE) and says what verification must report. */
async function plantInPostgres(type: DocumentType, document: Doc, field: string, kind: ColumnKind | 'extra'): Promise<Planted> {
  const table = documentTypes[type].table;
  const id = String(document.id);
  const secret = documentTypes[type].secretFields.includes(field);
  const shown = (value: unknown) => (secret && value !== undefined ? REDACTED : value);

  if (kind === 'extra') {
    await db.pool.query(`UPDATE "${table}" SET extra = extra || $1::jsonb WHERE id = $2`, [JSON.stringify({ plantedField: 42 }), id]);
    return { type, document, expected: { type, id, kind: 'different', path: 'plantedField', postgres: 42 } };
  }

  const current = normalizeDocument(document)[field];
  let path = field;
  let before: unknown = current;
  let after: unknown;
  let stored: unknown;
  if (kind === 'json') {
    const change = changeInside(current, field, secret);
    path = change.path;
    before = change.before;
    after = change.after;
    stored = JSON.stringify(change.whole);
  } else {
    after = changedScalar(kind, current, secret);
    stored = after;
  }
  await db.pool.query(`UPDATE "${table}" SET "${field}" = $1::${sqlTypeOf[kind]} WHERE id = $2`, [stored, id]);
  const expected: DocumentDifference = { type, id, kind: 'different', path };
  if (before !== undefined) expected.cosmos = shown(before);
  expected.postgres = shown(after);
  return { type, document, expected };
}

function changedScalar(kind: ColumnKind, value: unknown, secret: boolean): unknown {
  switch (kind) {
    case 'text':
      return secret
        ? `planted-secret-${typeof value === 'string' ? value : ''}`
        : value === 'user-settings'
          ? 'account-settings'
          : value === 'account-settings'
            ? 'user-settings'
            : `${typeof value === 'string' ? value : ''}-planted`;
    case 'boolean':
      return value === undefined ? true : !value;
    case 'int':
      return ((value as number | undefined) ?? 0) + 1;
    default:
      // Earlier, not later: `modified` is part of a row's version, and repair never rewrites a row
      // that claims to be newer than the source (see the next test).
      return ((value as number | undefined) ?? 1_700_000_000_000) - 1;
  }
}

/**
 * Changes one leaf inside a JSON value and names its path: into the first member holding an object or
 * array (else the first member), into element 1 of an array (else 0), so paths like
 * `subscription.entitlements.features[1]` come out. Strings inside a secret field become `planted-secret-...`.
 */
function changeInside(value: unknown, path: string, secret: boolean): { whole: unknown; path: string; before: unknown; after: unknown } {
  if (Array.isArray(value) && value.length > 0) {
    const index = Math.min(1, value.length - 1);
    const inner = changeInside(value[index], `${path}[${index}]`, secret);
    const whole = [...value];
    whole[index] = inner.whole;
    return { ...inner, whole };
  }
  if (value !== null && typeof value === 'object' && Object.keys(value).length > 0) {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object).sort();
    const key = keys.find((candidate) => object[candidate] !== null && typeof object[candidate] === 'object') ?? keys[0]!;
    const inner = changeInside(object[key], /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, secret);
    return { ...inner, whole: { ...object, [key]: inner.whole } };
  }
  const after =
    typeof value === 'string'
      ? `planted${secret ? '-secret' : ''}-${value}`
      : typeof value === 'number'
        ? value + 1
        : typeof value === 'boolean'
          ? !value
          : value === undefined
            ? { planted: true }
            : 'planted';
  return { whole: after, path, before: value, after };
}

function valueAt(document: Doc, path: string): unknown {
  const steps = path.match(/[A-Za-z_$][\w$]*|\d+/g) ?? [];
  return steps.reduce<unknown>((value, step) => (value as Record<string, unknown> | undefined)?.[step], document);
}
