import { randomBytes } from 'node:crypto';
import { createDatabase, dropDatabase } from '../dev/local-services/database-admin.js';
import { startEmbeddedPostgres } from '../dev/local-services/embedded-postgres.js';
import { applyMigrations } from '../shared/postgres/migration-applier.js';

/** Where the benchmark makes its databases, one fresh (migrated) database per variant. */
export interface BenchServer {
  /** Says which server, without credentials. */
  description: string;
  /** Creates a database with every migration applied; returns its URL and how to drop it. */
  freshDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

/**
 * BENCH_DATABASE_URL, else TEST_DATABASE_URL (a server the benchmark may create and drop databases on),
 * else an embedded PostgreSQL started for the run. Never DATABASE_URL: that is someone's real data.
 */
export async function startBenchServer(): Promise<BenchServer> {
  const configured = process.env.BENCH_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (configured) {
    const url = new URL(configured);
    return {
      description:
        `PostgreSQL at ${url.hostname}:${url.port || '5432'} ` +
        `(${process.env.BENCH_DATABASE_URL ? 'BENCH_DATABASE_URL' : 'TEST_DATABASE_URL'})`,
      freshDatabase: (label) => freshDatabase(configured, label),
      stop: () => Promise.resolve(),
    };
  }
  const embedded = await startEmbeddedPostgres();
  return {
    description: 'embedded PostgreSQL (embedded-postgres, fsync off)',
    freshDatabase: (label) => freshDatabase(embedded.adminUrl, label),
    stop: () => embedded.stop(),
  };
}

async function freshDatabase(adminUrl: string, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `nostria_bench_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  const url = await createDatabase(adminUrl, name);
  await applyMigrations(url);
  return { url, drop: () => dropDatabase(adminUrl, name) };
}
