import type { AppContext } from '../../shared/context/app-context.js';
import { throwIfInterrupted } from '../../shared/core/errors.js';
import { type PendingKey, type PendingSyncOutcome, pendingSyncBacklog, retryPendingSync } from '../../shared/mirror/pending-sync.js';
import { formatAge } from '../../shared/stats/type-labels.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { flag, sharedOptions } from '../core/options.js';
import { databaseSettings } from '../core/settings.js';

/** Entries per `retryPendingSync` call: one batch between looks at what is left (and at Ctrl-C). */
const batchSize = 100;

interface Summary {
  written: number;
  deleted: number;
  /** Entries left alone because Cosmos already holds a newer write of the document. */
  superseded: number;
  failed: number;
  /** Every entry handled, in order; failures with the (masked) reason. */
  outcomes: PendingSyncOutcome[];
  /** What is left: entries that failed again or (without --now) were not due when the command started. */
  remaining: number;
  /** When the oldest entry left was recorded (ISO 8601), and how long ago in seconds; null when none is left. */
  oldestCreatedAt: string | null;
  oldestAgeSeconds: number | null;
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
    'deleted if the document is gone; batch after batch until none is due. With --now every entry is taken,',
    'due or not (once Cosmos answers again, to empty the backlog without waiting out its backoff). An entry',
    'that fails again is rescheduled with backoff: 10 s after its first failed write, doubling with each failed',
    'retry, at most 15 minutes; writes that fail while it waits join it and do not push it out. The migration',
    'queue function does the same on its own when the queue is configured; this is the way by hand. It exits',
    '1 while entries remain, saying how many and how old the oldest is: before a switch back to Cosmos DB,',
    'pending_sync must be empty.',
  ].join('\n'),
  options: {
    now: flag('Take every entry now, whether or not its next attempt is due.'),
    json: sharedOptions.json,
  },
  settings: [...databaseSettings, 'USE_POSTGRESQL', 'DUAL_DATABASE_MODE'],
  exitCodes: {
    ok: 'pending_sync is empty: every pending write is in Cosmos DB',
    failed: 'entries remain in pending_sync (they failed again, or were not due yet and --now was not given), or the command failed',
    interrupted: 'interrupted (Ctrl-C): stopped after the batch being copied; entries not yet copied stay in pending_sync',
  },
  prepare:
    ({ values }) =>
    async (io) => {
      const summary = await copyEntries(io.services(), io.signal, values.now);
      io.result(io.json ? JSON.stringify(summary, null, 2) : describe(summary, values.now));
      return summary.remaining > 0 ? ExitCode.failed : ExitCode.ok;
    },
});

/**
 * What was due at the start (or, with `everything`, every entry), batch by batch. One clock for the whole
 * run: an entry that fails is rescheduled after it, so it is not tried twice, and the loop ends; with
 * `everything` the batches walk the entries in key order, each once.
 */
async function copyEntries(services: AppContext, signal: AbortSignal, everything: boolean): Promise<Summary> {
  const now = new Date();
  const outcomes: PendingSyncOutcome[] = [];
  let after: PendingKey | undefined;
  for (;;) {
    throwIfInterrupted(signal);
    const batch = await retryPendingSync(services, {
      now,
      limit: batchSize,
      regardlessOfSchedule: everything,
      ...(after ? { after } : {}),
    });
    outcomes.push(...batch);
    const last = batch.at(-1);
    if (!last || batch.length < batchSize) break;
    after = { pubkey: last.pubkey, documentId: last.id };
  }
  const backlog = await pendingSyncBacklog(services.prisma);
  const count = (outcome: PendingSyncOutcome['outcome']) => outcomes.filter((entry) => entry.outcome === outcome).length;
  return {
    written: count('written'),
    deleted: count('deleted'),
    superseded: count('superseded'),
    failed: count('failed'),
    outcomes,
    remaining: backlog.count,
    oldestCreatedAt: backlog.oldestCreatedAt?.toISOString() ?? null,
    oldestAgeSeconds: backlog.oldestCreatedAt ? Math.max(0, Math.round((now.getTime() - backlog.oldestCreatedAt.getTime()) / 1000)) : null,
    nextAttempt: backlog.nextAttempt?.toISOString() ?? null,
  };
}

function describe(summary: Summary, everything: boolean): string {
  const lines = [
    summary.outcomes.length === 0
      ? everything
        ? 'Nothing was pending.'
        : 'Nothing was due.'
      : `Copied ${summary.written + summary.deleted} pending write(s) to Cosmos DB: ` +
        `${summary.written} written, ${summary.deleted} deleted` +
        (summary.superseded > 0 ? `; ${summary.superseded} left alone (Cosmos DB holds a newer write)` : '') +
        '.',
  ];
  const failures = summary.outcomes.filter((entry) => entry.outcome === 'failed');
  if (failures.length > 0) {
    lines.push(`${failures.length} failed again (rescheduled with backoff):`);
    for (const entry of failures) lines.push(`  ${entry.type} ${entry.id} [${entry.pubkey}]: ${entry.error ?? 'unknown error'}`);
  }
  if (summary.remaining === 0) {
    lines.push('pending_sync is empty.');
  } else {
    lines.push(
      `${summary.remaining} entr${summary.remaining === 1 ? 'y remains' : 'ies remain'} in pending_sync: the oldest recorded ` +
        `${summary.oldestCreatedAt} (${formatAge(summary.oldestAgeSeconds ?? 0)} ago), the next due ${summary.nextAttempt}.` +
        (everything ? '' : ' Run with --now to try them all without waiting.'),
    );
  }
  return lines.join('\n');
}
