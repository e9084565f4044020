import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { generateDataset } from '../../dev/sample-data/generate-documents.js';
import { loadConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { documentTypeOf, documentTypes } from '../../shared/domain/document-types.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { loadPassRanges } from '../../shared/migration/pass-ranges.js';
import { readBudgetName, sharedReadBudget } from '../../shared/migration/read-budget.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { loadSource } from './fixtures/migration-source.js';
import { truncateAll } from './fixtures/migration-tables.js';

/**
 * Verification of everything and reconcile, feed range by feed range. A physical partition splits while a pass is
 * reading it: the pass
 * reads feed ranges as they were listed when it started, the SDK follows a split range's change feed into its two
 * children from the same continuation, and the range's PostgreSQL rows are selected by the same effective
 * partition key bounds, which the children cover exactly. Each pass must end with the result it would have had
 * without the split: every document read once, every row matched once, the same findings, the same removals. On
 * the Cosmos double (4 physical partitions, splits on demand) through the real SDK, and PostgreSQL. And every read
 * of either pass is booked against the shared request-unit budget (MIGRATION_MAX_RU_PER_SECOND, or the pass's own).
 */

type Doc = Record<string, unknown>;

let cosmos: CosmosTestServer;
let db: TestDatabase;
let container: Container;
let ctx: AppContext;
/** Every document as Cosmos held it when the full load ran. */
let source: Doc[];

beforeAll(async () => {
  [cosmos, db] = await Promise.all([startCosmosServer({ partitions: 4 }), createTestDatabase()]);
});
afterAll(async () => {
  await Promise.all([db?.drop(), cosmos?.stop()]);
});
beforeEach(async () => {
  await truncateAll(db.pool);
  await db.pool.query('TRUNCATE "reconcile_passes", "reconciled_deletes", "pass_ranges", "pass_seen_keys"');
  container = await createTestContainer(cosmos.client);
  // 150 generated users: about 1,300 documents of the seven types.
  source = await loadSource(container, [...generateDataset({ users: 150, seed: 23 })]);
  ctx = { prisma: db.prisma, cosmos: container, config: loadConfig({ MIGRATION_MODE: 'true' }) };
  expect((await migrateAll(ctx, { batchSize: 500 })).written).toBe(source.length);
});

const ranges = () => cosmos.ranges(container.database.id, container.id);

/**
 * Splits, now, the live range that starts where the `index`-th range listed before the pass starts: with two
 * ranges worked on at once, the first two listed are the ones in progress.
 */
function splitListed(listed: ReadonlyArray<{ minInclusive: string }>, index: number): void {
  const live = ranges().find((range) => range.minInclusive === listed[index]?.minInclusive);
  if (!live) throw new Error(`no live range starts where listed range ${index} does`);
  cosmos.split(container.database.id, container.id, live.id);
}

const key = (document: { id?: unknown; pubkey?: unknown }) => `${String(document.pubkey)}/${String(document.id)}`;

function tableOf(document: Doc): string {
  const type = documentTypeOf(document.type);
  if (!type) throw new Error(`no type for ${String(document.id)}`);
  return documentTypes[type].table;
}

/** Every 25th document of the source, in id order: spread over users, types and ranges. */
function every25th(): Doc[] {
  return [...source].sort((a, b) => String(a.id).localeCompare(String(b.id))).filter((_, index) => index % 25 === 3);
}

async function deleteInCosmos(documents: readonly Doc[]): Promise<void> {
  await Promise.all(documents.map((document) => container.item(String(document.id), String(document.pubkey)).delete()));
}

describe('a split while a pass reads', () => {
  test('verify --all reads every document once and finds exactly what differs', async () => {
    const [goneFromCosmos, goneFromPostgres, changed] = [every25th().slice(0, 12), every25th().slice(12, 20), every25th().slice(20, 26)];
    await deleteInCosmos(goneFromCosmos);
    for (const document of goneFromPostgres) await db.pool.query(`DELETE FROM "${tableOf(document)}" WHERE id = $1`, [document.id]);
    for (const document of changed) {
      await db.pool.query(`UPDATE "${tableOf(document)}" SET extra = extra || '{"planted": true}' WHERE id = $1`, [document.id]);
    }
    const listed = ranges();
    expect(listed).toHaveLength(4);

    // The first range splits as the first page of documents is read, the second as the first rows are matched.
    const splits: string[] = [];
    const report = await verifyAll(ctx, {
      pageSize: 40,
      concurrency: 2,
      maxListed: 1000,
      onProgress: (progress) => {
        if (splits.length === 0 && progress.documents > 0) splits.push(`reading, ${progress.documents} read`);
        else if (splits.length === 1 && progress.rows > 0) splits.push(`matching, ${progress.rows} matched`);
        else return;
        splitListed(listed, splits.length - 1);
      },
    });

    expect(splits).toHaveLength(2);
    expect(ranges()).toHaveLength(6);
    expect(report.missingInCosmos.listed.map(key).sort()).toEqual(goneFromCosmos.map(key).sort());
    expect(report.missingInPostgres.listed.map(key).sort()).toEqual(goneFromPostgres.map(key).sort());
    expect(report.different.listed.map(key).sort()).toEqual(changed.map(key).sort());
    expect(report.different.listed.every((document) => document.paths?.includes('planted'))).toBe(true);
    expect(report).toMatchObject({ consistent: false, competing: { count: 0 }, otherTypes: { missing: { count: 0 } } });
    // Every document in Cosmos read once, every row matched once, through the four ranges listed at the start.
    const inCosmos = source.length - goneFromCosmos.length;
    expect(report.reads).toMatchObject({ ranges: 4, documents: inCosmos });
    const types = Object.values(report.types);
    expect(types.reduce((sum, tally) => sum + tally.cosmos, 0)).toBe(inCosmos);
    expect(types.reduce((sum, tally) => sum + tally.postgres, 0)).toBe(source.length - goneFromPostgres.length);
    // Nothing of the verification is left behind.
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT (SELECT count(*) FROM pass_ranges) + (SELECT count(*) FROM pass_seen_keys) AS n',
    );
    expect(Number(rows[0]?.n)).toBe(0);
  });

  test('reconcile --apply removes exactly the rows whose documents were deleted, each once', async () => {
    const deleted = every25th();
    await deleteInCosmos(deleted);
    const listed = ranges();
    expect(listed).toHaveLength(4);

    const splits: string[] = [];
    const outcome = await reconcile(ctx, {
      apply: true,
      chunkSize: 40,
      concurrency: 2,
      onProgress: ({ counts }) => {
        if (splits.length === 0 && counts.documents > 0) splits.push(`reading, ${counts.documents} read`);
        else if (splits.length === 1 && counts.scanned > 0) splits.push(`matching, ${counts.scanned} matched`);
        else return;
        splitListed(listed, splits.length - 1);
      },
    });

    expect(splits).toHaveLength(2);
    expect(ranges()).toHaveLength(6);
    expect(outcome).toMatchObject({
      done: true,
      documents: source.length - deleted.length,
      scanned: source.length,
      candidates: deleted.length,
      confirmed: deleted.length,
      removed: deleted.length,
      keptRecreated: 0,
      keptChanged: 0,
    });
    const { rows: audited } = await db.pool.query<{ pubkey: string; id: string }>(
      'SELECT pubkey, id FROM reconciled_deletes WHERE "passId" = $1',
      [outcome.passId],
    );
    expect(audited.map(key).sort()).toEqual(deleted.map(key).sort());
    for (const document of source) {
      const { rows } = await db.pool.query(`SELECT 1 FROM "${tableOf(document)}" WHERE id = $1`, [document.id]);
      expect(rows.length, key(document)).toBe(deleted.includes(document) ? 0 : 1);
    }
    // The pass kept the four ranges it listed, each done, each matched against a complete read.
    const passRanges = await loadPassRanges(db.prisma, outcome.passId);
    expect(passRanges.map((range) => range.phase)).toEqual(['done', 'done', 'done', 'done']);
    expect(passRanges.reduce((sum, range) => sum + range.documents, 0)).toBe(source.length - deleted.length);
    expect(passRanges.reduce((sum, range) => sum + range.scanned, 0)).toBe(source.length);
  });
});

describe('the shared request-unit budget', () => {
  /** Every charge booked against the process's share of the shared budget at `perSecond`, from now on. */
  function bookedAt(perSecond: number): { total: number } {
    const budget = sharedReadBudget(db.prisma, perSecond);
    const booked = { total: 0 };
    const spend = budget.spend.bind(budget);
    budget.spend = (charge: number) => {
      booked.total += charge;
      spend(charge);
    };
    return booked;
  }

  test('every read of verify --all and of reconcile is booked against it, and its bucket is the shared one', async () => {
    await deleteInCosmos(every25th().slice(0, 10));
    const verifying = bookedAt(100_000);
    const report = await verifyAll(ctx, { maxRequestUnitsPerSecond: 100_000 });
    expect(report.reads.requestUnits).toBeGreaterThan(0);
    expect(verifying.total).toBeCloseTo(report.reads.requestUnits, 1);

    const reconciling = bookedAt(200_000);
    const outcome = await reconcile(ctx, { maxRequestUnitsPerSecond: 200_000 });
    expect(outcome.confirmed).toBe(10);
    // The change feed's pages and the candidates' point reads alike.
    expect(reconciling.total).toBeCloseTo(outcome.requestUnits, 1);
    const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM request_unit_budgets');
    expect(rows).toEqual([{ name: readBudgetName }]);
  });
});

describe('what a pass read is scratch', () => {
  test('a pass left for a day is read again when resumed, and a killed verification leaves nothing behind', async () => {
    const deleted = every25th().slice(0, 15);
    await deleteInCosmos(deleted);
    const controller = new AbortController();
    const stopped = reconcile(ctx, {
      apply: true,
      chunkSize: 40,
      signal: controller.signal,
      onProgress: ({ counts }) => {
        if (counts.documents >= 200) controller.abort(new Error('stopped by Ctrl-C'));
      },
    });
    await expect(stopped).rejects.toThrow(/stopped by Ctrl-C/);
    const { rows: passes } = await db.pool.query<{ id: string }>('SELECT id FROM reconcile_passes');
    const passId = passes[0]?.id ?? '';
    // A verification whose process was killed mid-read: its ranges and what they read stay behind.
    await db.pool.query(
      `INSERT INTO pass_ranges (id, "passId", kind, "rangeKey") VALUES ('00000000-0000-4000-8000-000000000001', 'killed', 'verification', '-FF')`,
    );
    await db.pool.query(`INSERT INTO pass_seen_keys ("rangeId", key) VALUES ('00000000-0000-4000-8000-000000000001', gen_random_uuid())`);
    const seenBefore = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pass_seen_keys');
    expect(seenBefore.rows[0]?.n).toBeGreaterThan(1);
    await db.pool.query(`UPDATE pass_ranges SET "updatedAt" = now() - interval '25 hours'`);

    // The next pass purges: the verification's records go, the reconcile pass's ranges read again from the start.
    const purged = await verifyAll(ctx, { pageSize: 200 });
    expect(purged.missingInCosmos.count).toBe(deleted.length);
    expect((await db.pool.query('SELECT 1 FROM pass_ranges WHERE "passId" = $1', ['killed'])).rows).toEqual([]);
    const reset = await loadPassRanges(db.prisma, passId);
    expect(reset.map((range) => [range.phase, range.continuation, range.cursor])).toEqual(
      Array.from({ length: 4 }, () => ['reading', null, null]),
    );
    expect((await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pass_seen_keys')).rows[0]?.n).toBe(0);

    const resumed = await reconcile(ctx, { apply: true, passId, chunkSize: 40 });
    expect(resumed).toMatchObject({ done: true, removed: deleted.length, keptRecreated: 0 });
    const { rows: audited } = await db.pool.query<{ pubkey: string; id: string }>('SELECT pubkey, id FROM reconciled_deletes');
    expect(audited.map(key).sort()).toEqual(deleted.map(key).sort());
  });
});
