import { parseArgs } from 'node:util';
import { configuredSecrets } from '../shared/config/secrets.js';
import type { AppContext } from '../shared/context/app-context.js';
import { ConfigError } from '../shared/core/errors.js';
import { safeErrorMessage } from '../shared/core/safe-error.js';
import { type PendingSyncOutcome, pendingSyncBacklog, retryPendingSync } from '../shared/mirror/pending-sync.js';
import { closeServices, getServices } from '../shared/runtime/services.js';

const HELP = `Usage: npm run migrate:pending-sync [-- --json]

Dual database mode with PostgreSQL primary (USE_POSTGRESQL=true, DUAL_DATABASE_MODE=true): copies to
Cosmos DB the documents whose mirror write failed (the pending_sync table). Each entry due when the
command starts gets its document's current PostgreSQL state written to Cosmos, or its Cosmos copy
deleted if the document is gone; batch after batch until none is due. An entry that fails again is
rescheduled with backoff (10 s doubling, at most 15 minutes). The migration queue function does the
same on its own when the queue is configured; this is the way by hand.

Options:
  --json       Print one JSON object with the result instead of text.
  -h, --help   Show this help.

Environment:
  DATABASE_URL                       PostgreSQL (the primary), postgresql://...
  AZURE_COSMOSDB_CONNECTION_STRING   Cosmos DB by key, or
  AZURE_COSMOSDB_ENDPOINT            Cosmos DB by Entra ID (+ AZURE_CLIENT_ID for a user-assigned identity).
  AZURE_COSMOSDB_DATABASE_NAME, AZURE_COSMOSDB_CONTAINER_NAME   default NostriaDB / Documents.

Exit codes: 0 done (nothing failed), 1 some entries failed again or the command failed, 2 bad arguments.`;

/** Entries per `retryPendingSync` call: one batch between looks at what is left. */
const batchSize = 100;

interface Summary {
  written: number;
  deleted: number;
  failed: number;
  /** Every entry handled, in order; failures with the (masked) reason. */
  outcomes: PendingSyncOutcome[];
  /** What is left: entries that failed again or were not due when the command started. */
  remaining: number;
  nextAttempt: string | null;
}

/** Parses arguments, copies what is due, prints the summary, and returns the process exit code. */
async function main(argv: string[]): Promise<number> {
  let json: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    json = values.json;
  } catch (error) {
    console.error(`migrate:pending-sync: ${error instanceof Error ? error.message : String(error)}\nRun with --help for usage.`);
    return 2;
  }

  const services = getServices();
  try {
    const summary = await copyDueEntries(services);
    console.log(json ? JSON.stringify(summary, null, 2) : describe(summary));
    return summary.failed > 0 ? 1 : 0;
  } catch (error) {
    // A configuration error names the settings, never their values.
    const reason = error instanceof ConfigError ? error.message : safeErrorMessage(error, configuredSecrets(services));
    console.error(`migrate:pending-sync: ${reason}`);
    return 1;
  } finally {
    await closeServices().catch(() => undefined);
  }
}

/**
 * What was due at the start, batch by batch. One clock for the whole run: an entry that fails is
 * rescheduled after it, so it is not tried twice, and the loop ends.
 */
async function copyDueEntries(services: AppContext): Promise<Summary> {
  const now = new Date();
  const outcomes: PendingSyncOutcome[] = [];
  for (;;) {
    const batch = await retryPendingSync(services, { now, limit: batchSize });
    outcomes.push(...batch);
    if (batch.length < batchSize) break;
  }
  const backlog = await pendingSyncBacklog(services.prisma);
  const count = (outcome: PendingSyncOutcome['outcome']) => outcomes.filter((entry) => entry.outcome === outcome).length;
  return {
    written: count('written'),
    deleted: count('deleted'),
    failed: count('failed'),
    outcomes,
    remaining: backlog.count,
    nextAttempt: backlog.nextAttempt?.toISOString() ?? null,
  };
}

function describe(summary: Summary): string {
  const lines = [
    summary.outcomes.length === 0
      ? 'Nothing was due.'
      : `Copied ${summary.written + summary.deleted} pending write(s) to Cosmos DB: ${summary.written} written, ${summary.deleted} deleted.`,
  ];
  const failures = summary.outcomes.filter((entry) => entry.outcome === 'failed');
  if (failures.length > 0) {
    lines.push(`${failures.length} failed again (rescheduled with backoff):`);
    for (const entry of failures) lines.push(`  ${entry.type} ${entry.id} [${entry.pubkey}]: ${entry.error ?? 'unknown error'}`);
  }
  lines.push(
    summary.remaining === 0
      ? 'pending_sync is empty.'
      : `${summary.remaining} entr${summary.remaining === 1 ? 'y' : 'ies'} waiting in pending_sync, the next due ${summary.nextAttempt}.`,
  );
  return lines.join('\n');
}

process.exitCode = await main(process.argv.slice(2));
