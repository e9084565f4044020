import type { AppContext } from '../../shared/context/app-context.js';
import { throwIfInterrupted } from '../../shared/core/errors.js';
import { type PendingSyncOutcome, pendingSyncBacklog, retryPendingSync } from '../../shared/mirror/pending-sync.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { sharedOptions } from '../core/options.js';
import { databaseSettings } from '../core/settings.js';

/** Entries per `retryPendingSync` call: one batch between looks at what is left (and at Ctrl-C). */
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

export const pendingSyncCommand = defineCommand({
  script: 'migrate:pending-sync',
  entry: 'cli/pending-sync.ts',
  summary: 'copy pending dual-mode writes to Cosmos DB',
  description: [
    'Dual database mode with PostgreSQL primary (USE_POSTGRESQL=true, DUAL_DATABASE_MODE=true): copies to',
    'Cosmos DB the documents whose mirror write failed (the pending_sync table). Each entry due when the',
    "command starts gets its document's current PostgreSQL state written to Cosmos, or its Cosmos copy",
    'deleted if the document is gone; batch after batch until none is due. An entry that fails again is',
    'rescheduled with backoff (10 s doubling, at most 15 minutes). The migration queue function does the',
    'same on its own when the queue is configured; this is the way by hand.',
  ].join('\n'),
  options: { json: sharedOptions.json },
  settings: [...databaseSettings, 'USE_POSTGRESQL', 'DUAL_DATABASE_MODE'],
  exitCodes: {
    ok: 'done (nothing failed)',
    failed: 'some entries failed again (rescheduled), or the command failed',
    interrupted: 'interrupted (Ctrl-C): stopped after the batch being copied; entries not yet copied stay in pending_sync',
  },
  prepare: () => async (io) => {
    const summary = await copyDueEntries(io.services(), io.signal);
    io.result(io.json ? JSON.stringify(summary, null, 2) : describe(summary));
    return summary.failed > 0 ? ExitCode.failed : ExitCode.ok;
  },
});

/**
 * What was due at the start, batch by batch. One clock for the whole run: an entry that fails is
 * rescheduled after it, so it is not tried twice, and the loop ends.
 */
async function copyDueEntries(services: AppContext, signal: AbortSignal): Promise<Summary> {
  const now = new Date();
  const outcomes: PendingSyncOutcome[] = [];
  for (;;) {
    throwIfInterrupted(signal);
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
      : `Copied ${summary.written + summary.deleted} pending write(s) to Cosmos DB: ` +
        `${summary.written} written, ${summary.deleted} deleted.`,
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
