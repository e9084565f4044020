import type { z } from 'zod';
import { documentTypeNames, documentTypeOf, documentTypes } from '../shared/domain/document-types.js';
import { documentToRow } from '../shared/domain/mapping.js';
import { compileObjectCheck } from '../shared/domain/object-check.js';
import { findUnstorable } from '../shared/domain/storable-json.js';
import { PgTransaction } from '../shared/postgres/pg-transaction.js';
import { createPrismaClient } from '../shared/postgres/prisma-client.js';
import { applyDocuments } from '../shared/write-path/apply-documents.js';
import { planDocuments } from '../shared/write-path/plan-documents.js';
import { startBenchServer } from './bench-server.js';
import { generateBenchDocuments } from './document-stream.js';

/**
 * Where the milliseconds of one page go: `npx tsx bench/page-profile.ts [documents] [pageSize]`.
 * Pages of one type each (as the migration reads them), written one at a time by `applyDocuments` into a
 * fresh database, then the same pages once more (every row exists, as for the sync or a re-run), every statement timed as the write path sends it (the methods of its transaction on `pg`,
 * `PgTransaction`, are wrapped with a timer). The CPU parts (storability walk, schema check, the rest of the
 * mapping, planning) are timed on the same pages apart from the write. Prints the mean per page, by part.
 */

const documentsWanted = Number(process.argv[2] ?? 30_000);
const pageSize = Number(process.argv[3] ?? 1000);

/** A statement's part of the page, by how its text begins. */
function partOf(sql: string): string {
  const text = sql.trimStart();
  if (text.includes('set_config(')) return 'transaction timeouts (SET LOCAL)';
  if (text.includes('pg_advisory_xact_lock')) return 'identity locks (advisory)';
  if (text.includes('FOR UPDATE')) return 'row lock statement';
  if (text.includes('AS "taken"')) return 'probe: first key taken?';
  if (text.includes('AS "named"')) return 'tombstone or quarantine entry per document';
  if (text.includes('SAVEPOINT')) return 'savepoints around COPY';
  if (text.startsWith('WITH input') || text.startsWith('WITH')) return 'upsert statement';
  if (text.startsWith('COPY')) return 'COPY of a chunk that meets nothing';
  if (text.includes('"migration_')) return 'checkpoint';
  if (text.startsWith('INSERT INTO "quarantine"')) return 'quarantine';
  return `other: ${text.slice(0, 40).replace(/\s+/g, ' ')}`;
}

function pagesOf(count: number): unknown[][] {
  const buffers = new Map<string, unknown[]>();
  const pages: unknown[][] = [];
  for (const document of generateBenchDocuments(count)) {
    const type = documentTypeOf(document.type) ?? 'other';
    const buffer = buffers.get(type) ?? [];
    buffer.push(document);
    buffers.set(type, buffer);
    if (buffer.length === pageSize) {
      pages.push(buffer);
      buffers.set(type, []);
    }
  }
  return pages;
}

/** The check the mapping asks first (`object-check.ts`), per type. */
const compiledChecks = new Map(documentTypeNames.map((type) => [type, compileObjectCheck(documentTypes[type].schema as z.ZodObject)]));

function timeCpu(pages: readonly unknown[][]): Map<string, number> {
  const totals = new Map<string, number>();
  const add = (part: string, ms: number) => totals.set(part, (totals.get(part) ?? 0) + ms);
  for (let round = 0; round < 2; round += 1) {
    // The first round warms the JIT; only the second is kept.
    totals.clear();
    for (const page of pages) {
      let started = performance.now();
      for (const document of page) findUnstorable(document);
      add('storability walk', performance.now() - started);
      started = performance.now();
      for (const document of page) {
        const type = documentTypeOf((document as { type?: unknown }).type);
        if (type) compiledChecks.get(type)?.accepts(document as Record<string, unknown>);
      }
      add('schema check (compiled from zod)', performance.now() - started);
      started = performance.now();
      for (const document of page) documentToRow(document);
      add('documentToRow (walk + check + row)', performance.now() - started);
      started = performance.now();
      planDocuments(page);
      add('planDocuments (mapping + planning)', performance.now() - started);
    }
  }
  return totals;
}

async function main(): Promise<void> {
  const pages = pagesOf(documentsWanted);
  const cpu = timeCpu(pages);
  const server = await startBenchServer();
  const database = await server.freshDatabase('profile');
  const statements = new Map<string, number>();
  const counts = new Map<string, number>();
  const prisma = createPrismaClient(database.url, 2);
  // Every statement of the write path goes through one of these: (sql, ...values), or COPY's (statement, text).
  for (const method of ['$queryRawUnsafe', '$executeRawUnsafe', 'copyFrom'] as const) {
    const send = Reflect.get(PgTransaction.prototype, method) as (
      this: PgTransaction,
      sql: string,
      ...values: unknown[]
    ) => Promise<unknown>;
    Object.defineProperty(PgTransaction.prototype, method, {
      configurable: true,
      value: async function timed(this: PgTransaction, sql: string, ...values: unknown[]) {
        const started = performance.now();
        try {
          return await send.call(this, sql, ...values);
        } finally {
          const part = partOf(sql);
          statements.set(part, (statements.get(part) ?? 0) + performance.now() - started);
          counts.set(part, (counts.get(part) ?? 0) + 1);
        }
      },
    });
  }
  /** Applies every page, one at a time, and prints where the milliseconds of a page went. */
  const profile = async (label: string) => {
    statements.clear();
    counts.clear();
    let total = 0;
    const outcomes = { written: 0, unchanged: 0 };
    const cpuBefore = process.cpuUsage();
    for (const page of pages) {
      const started = performance.now();
      const result = await applyDocuments(prisma, page, { source: 'migration' });
      total += performance.now() - started;
      outcomes.written += result.written;
      outcomes.unchanged += result.unchanged;
    }
    const cpuUsed = process.cpuUsage(cpuBefore);
    const perPage = (ms: number) => (ms / pages.length).toFixed(2).padStart(8);
    const planning = cpu.get('planDocuments (mapping + planning)') ?? 0;
    const inStatements = [...statements.values()].reduce((sum, ms) => sum + ms, 0);
    console.log(`applyDocuments, ${label}: ${outcomes.written} rows written, ${outcomes.unchanged} unchanged; ms per page:`);
    console.log(`  ${perPage(total)}  total (this process's CPU: ${perPage((cpuUsed.user + cpuUsed.system) / 1000).trim()})`);
    console.log(`  ${perPage(planning)}  planDocuments (from the CPU run)`);
    for (const [part, ms] of statements) console.log(`  ${perPage(ms)}  ${part} (${(counts.get(part) ?? 0) / pages.length} per page)`);
    console.log(`  ${perPage(total - planning - inStatements)}  the rest: connection, BEGIN/COMMIT, COPY text, accounting`);
  };
  try {
    await prisma.$queryRawUnsafe('SELECT 1');
    console.log(`${pages.length} pages of ${pageSize} documents (one type each), one page at a time.`);
    console.log('CPU, ms per page (warm):');
    for (const [part, ms] of cpu) console.log(`  ${(ms / pages.length).toFixed(2).padStart(8)}  ${part}`);
    await profile('into empty tables (a fresh full load)');
    await profile('the same pages again (every row exists: the sync, a re-run)');
  } finally {
    await prisma.$disconnect();
    await database.drop();
    await server.stop();
  }
}

await main();
process.exit(0);
