import type { AppContext } from '../context/app-context.js';
import { type DocumentType, documentTypeNames } from '../domain/document-types.js';
import type { Phase } from '../domain/phase.js';
import { lastReconcilePass, type ReconcilePassSummary } from '../migration/reconcile-passes.js';
import { isAbandoned, type RunState } from '../migration/runs.js';
import { pendingSyncBacklog } from '../postgres/pending-sync-backlog.js';
import { effectivePhase, readStoredPhase } from '../postgres/phase-store.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { countCosmosDocuments, countPostgresRows, countQuarantinedDocuments, type QuarantineCounts } from './document-counts.js';

export interface LastRun {
  id: string;
  kind: string;
  /** `interrupted` (Ctrl-C) and `failed` runs can be continued with `--resume`; a killed one stays `running`. */
  state: RunState;
  /**
   * `running`, but no process has said so for longer than `abandonedAfterMs` (its heartbeat, ISO 8601, stopped):
   * it was killed or could not record its end. Continue it with `--resume`.
   */
  abandoned: boolean;
  heartbeatAt: string;
  dryRun: boolean;
  /** ISO 8601. */
  startedAt: string;
  finishedAt: string | null;
  processed: number;
  written: number;
  unchanged: number;
  quarantined: number;
  failed: number;
  /** Request units its Cosmos reads were charged. */
  requestUnits: number;
  /** 429 answers its reads met (the SDK's own retries included): many mean the budget is above what the account spares. */
  throttled: number;
  error: string | null;
}

/** Mirror writes waiting in `pending_sync` (dual mode, PostgreSQL primary): Cosmos DB is behind by these documents. */
export interface PendingWrites {
  count: number;
  /** When the oldest was recorded (ISO 8601), and its age in seconds when stats were read; null when none wait. */
  oldestCreatedAt: string | null;
  oldestAgeSeconds: number | null;
  /** When the first is due for its next try (ISO 8601); null when none wait. */
  nextAttempt: string | null;
}

/** `npm run migrate:stats --json`. Counts are keyed by the Cosmos `type` name. */
export interface MigrationStats {
  cosmos: Record<DocumentType, number>;
  postgres: Record<DocumentType, number>;
  /** OPEN entries in the quarantine, all types: documents waiting for someone to fix or accept them. */
  quarantined: number;
  /**
   * Per type, the share of Cosmos documents accounted for in PostgreSQL: (rows + quarantined) / Cosmos,
   * as a percentage with one decimal, rounded down (so 100.0 means every document, not 99.96%) and at
   * most 100. A quarantined document (open, or resolved by an operator) counts as accounted for: the
   * migration has dealt with it, and it will never reach its table until its source is fixed, so counting
   * it as pending would keep progress below 100% for ever. Open ones are reported in `quarantined` for
   * someone to look at. 100 when Cosmos has none.
   */
  progress: Record<DocumentType, number>;
  /** Open entries per type: aliases count under their type; documents whose type names none of the seven under `other`. */
  quarantinedByType: QuarantineCounts;
  /** Open entries per reason code. */
  quarantinedByReason: Record<string, number>;
  /** Entries no longer open, kept for audit: accepted by an operator, and closed because their documents were deleted in Cosmos. */
  quarantineSettled: { resolved: number; closed: number };
  pendingSync: PendingWrites;
  lastRun: LastRun | null;
  /** The most recent reconcile pass (rows whose documents are gone from Cosmos), or null when none has run. */
  lastReconcile: ReconcilePassSummary | null;
  /**
   * The primary's phase as `migrate:switch` recorded it (a lapsed fence already counts as the phase before it), or
   * null where no switch was ever recorded: USE_POSTGRESQL/DUAL_DATABASE_MODE decide then.
   */
  phase: Phase | null;
  /** The most recent switch: where to, how it ended, how long writes were held. */
  lastSwitch: LastSwitch | null;
}

export interface LastSwitch {
  id: string;
  target: string;
  state: string;
  startedAt: string;
  finishedAt: string | null;
  pauseMs: number | null;
  error: string | null;
}

/** Counts per type on both sides, the open quarantine, progress, pending mirror writes and the most recent migration run. */
export async function getMigrationStats(ctx: Pick<AppContext, 'prisma' | 'cosmos'>): Promise<MigrationStats> {
  const [cosmosCounts, postgresCounts, quarantine, pending, lastRun, lastReconcile, stored, lastSwitch] = await Promise.all([
    Promise.all(documentTypeNames.map((type) => countCosmosDocuments(ctx.cosmos, type))),
    Promise.all(documentTypeNames.map((type) => countPostgresRows(ctx.prisma, type))),
    countQuarantinedDocuments(ctx.prisma),
    pendingSyncBacklog(ctx.prisma),
    readLastRun(ctx.prisma),
    lastReconcilePass(ctx.prisma),
    readStoredPhase(ctx.prisma),
    readLastSwitch(ctx.prisma),
  ]);
  const cosmos = byType((_, index) => cosmosCounts[index] ?? 0);
  const postgres = byType((_, index) => postgresCounts[index] ?? 0);
  const { oldestCreatedAt, nextAttempt } = pending;
  return {
    cosmos,
    postgres,
    quarantined: Object.values(quarantine.openByType).reduce((total, count) => total + count, 0),
    progress: byType((type) => progressPercent(postgres[type] + quarantine.accountedByType[type], cosmos[type])),
    quarantinedByType: quarantine.openByType,
    quarantinedByReason: quarantine.openByReason,
    quarantineSettled: { resolved: quarantine.resolved, closed: quarantine.closed },
    pendingSync: {
      count: pending.count,
      oldestCreatedAt: oldestCreatedAt?.toISOString() ?? null,
      oldestAgeSeconds: oldestCreatedAt ? Math.max(0, Math.round((Date.now() - oldestCreatedAt.getTime()) / 1000)) : null,
      nextAttempt: nextAttempt?.toISOString() ?? null,
    },
    lastRun,
    lastReconcile,
    phase: stored ? effectivePhase(stored) : null,
    lastSwitch,
  };
}

async function readLastSwitch(prisma: PrismaClient): Promise<LastSwitch | null> {
  const found = await prisma.switch.findFirst({ orderBy: { startedAt: 'desc' } });
  if (!found) return null;
  return {
    id: found.id,
    target: found.target,
    state: found.state,
    startedAt: found.startedAt.toISOString(),
    finishedAt: found.finishedAt?.toISOString() ?? null,
    pauseMs: found.pauseMs,
    error: found.error,
  };
}

/** `done / total` as a percentage with one decimal, rounded down and capped at 100; 100 when there is nothing to do. */
export function progressPercent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.floor((done * 1000) / total) / 10);
}

function byType(value: (type: DocumentType, index: number) => number): Record<DocumentType, number> {
  return Object.fromEntries(documentTypeNames.map((type, index) => [type, value(type, index)])) as Record<DocumentType, number>;
}

async function readLastRun(prisma: PrismaClient): Promise<LastRun | null> {
  const run = await prisma.migrationRun.findFirst({ orderBy: [{ startedAt: 'desc' }, { id: 'desc' }] });
  if (!run) return null;
  return {
    id: run.id,
    kind: run.kind,
    state: run.state as RunState,
    abandoned: isAbandoned(run.state, run.heartbeatAt, Date.now()),
    heartbeatAt: run.heartbeatAt.toISOString(),
    dryRun: run.dryRun,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    processed: Number(run.processed),
    written: Number(run.written),
    unchanged: Number(run.unchanged),
    quarantined: Number(run.quarantined),
    failed: Number(run.failed),
    requestUnits: Math.round(run.requestUnits * 100) / 100,
    throttled: Number(run.throttled),
    error: run.error,
  };
}
