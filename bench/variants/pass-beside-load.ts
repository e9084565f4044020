import type { Container } from '@azure/cosmos';
import { loadDocuments } from '../../dev/local-services/load-documents.js';
import { startLocalCosmosServer } from '../../dev/local-services/local-cosmos-server.js';
import type { AppConfig } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import { migrateAll } from '../../shared/migration/migrate-type.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { reconcile } from '../../shared/sync/reconcile.js';
import { verifyAll } from '../../shared/verification/verify-all.js';
import { benchDocuments } from '../document-stream.js';
import { Stopwatch } from '../stopwatch.js';
import type { VariantInput, VariantOutput, VariantRun } from './variant.js';

/**
 * A pass over the whole container beside the full load of the same documents, in one process: the Cosmos double
 * (4 physical partitions) is loaded untimed, the full load (`migrateAll`, one chain per feed range) runs and is
 * timed, then the pass runs and is timed: `verify-all` (`verifyAll`, 4 feed ranges at once) or `reconcile`
 * (`reconcile --apply`, 4 ranges at once, after 1% of the documents were deleted in Cosmos, untimed, so its
 * point reads and removals are in the figures). Both report their documents, seconds and request units; the
 * report prints the pass beside the load (docs/s, and RU per document read). The double runs in this process, so
 * its CPU is in the client CPU of both.
 */

interface Pass {
  /** After the load, before the pass's clock starts. */
  prepare?(container: Container, input: VariantInput): Promise<void>;
  run(ctx: AppContext, input: VariantInput): Promise<{ documents: number; requestUnits: number; notes: string }>;
}

function besideLoad(pass: Pass): VariantRun {
  return async (input) => {
    const { documents, databaseUrl, batchSize, sampler } = input;
    const cosmos = await startLocalCosmosServer();
    const prisma = createPrismaClient(databaseUrl, 5);
    try {
      const container = await cosmos.createDocumentsContainer();
      await loadDocuments(container, benchDocuments(documents));
      const config: AppConfig = {
        databaseUrl,
        poolSize: 5,
        usePostgres: false,
        dualDatabaseMode: false,
        migrationMode: true,
        cosmos: cosmos.settings,
      };
      const ctx: AppContext = { config, prisma, cosmos: container };
      await prisma.$queryRawUnsafe('SELECT 1');
      sampler.markInput();

      const loadWatch = await Stopwatch.create(databaseUrl);
      await loadWatch.start();
      const load = await migrateAll(ctx, { batchSize, onProgress: () => sampler.sample() });
      const loaded = await loadWatch.stop();

      await pass.prepare?.(container, input);
      const passWatch = await Stopwatch.create(databaseUrl);
      await passWatch.start();
      const result = await pass.run(ctx, input);
      const elapsed = await passWatch.stop();
      return {
        documents: result.documents,
        ...elapsed,
        requestUnits: result.requestUnits,
        notes: result.notes,
        baseline: { label: 'full load', documents: load.processed, seconds: loaded.seconds, requestUnits: load.requestUnits },
      } satisfies VariantOutput;
    } finally {
      await prisma.$disconnect();
      await cosmos.stop();
    }
  };
}

/** `migrate:verify -- --all` as the command runs it: every range's documents compared, then its rows matched. */
export const verifyAllBesideLoad = besideLoad({
  run: async (ctx, { batchSize, sampler }) => {
    const report = await verifyAll(ctx, { pageSize: batchSize, concurrency: 4, onProgress: () => sampler.sample() });
    if (!report.consistent) throw new Error('verify-all: the full load did not verify consistent');
    const rows = Object.values(report.types).reduce((sum, tally) => sum + tally.postgres, 0);
    return {
      documents: report.reads.documents,
      requestUnits: report.reads.requestUnits,
      notes: `consistent; ${rows.toLocaleString('en-US')} rows matched over ${report.reads.ranges} feed ranges`,
    };
  },
});

/** Every 100th document of the load, deleted in Cosmos before the reconcile pass. */
function deletedDocuments(documents: number): Array<{ id: string; pubkey: string }> {
  const deleted: Array<{ id: string; pubkey: string }> = [];
  let index = 0;
  for (const document of benchDocuments(documents)) {
    if (index++ % 100 === 7) deleted.push({ id: document.id, pubkey: document.pubkey });
  }
  return deleted;
}

/** `migrate:reconcile -- --apply`, after 1% of the documents were deleted in Cosmos. */
export const reconcileBesideLoad = besideLoad({
  prepare: async (container, { documents }) => {
    const deleted = deletedDocuments(documents);
    for (let start = 0; start < deleted.length; start += 50) {
      await Promise.all(deleted.slice(start, start + 50).map(({ id, pubkey }) => container.item(id, pubkey).delete()));
    }
  },
  run: async (ctx, { documents, batchSize, sampler }) => {
    const outcome = await reconcile(ctx, { apply: true, chunkSize: batchSize, concurrency: 4, onProgress: () => sampler.sample() });
    // Indices 7, 107, 207, ... below `documents`: what `deletedDocuments` picked, counted without generating them again.
    const deleted = Math.floor((documents + 92) / 100);
    if (outcome.removed !== deleted) throw new Error(`reconcile: removed ${outcome.removed} of the ${deleted} deleted`);
    return {
      documents: outcome.documents,
      requestUnits: outcome.requestUnits,
      notes: `${outcome.scanned.toLocaleString('en-US')} rows compared, ${outcome.removed.toLocaleString('en-US')} removed (deleted in Cosmos first)`,
    };
  },
});
