import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DocumentType } from '../domain/document-types.js';
import type { PrismaClient } from '../postgres/prisma-client.js';

/**
 * The `migration_runs` ledger: one row per (non-dry) migration, with what it covers (`scope`), its
 * state and its counters. A run that was killed stays `running` (nothing could mark it) and its heartbeat
 * stops, so it is seen as abandoned ({@link isAbandoned}); one stopped on request (Ctrl-C, an aborted
 * signal) after a committed page is `interrupted`, one that threw is `failed`; all can be resumed from
 * their checkpoints.
 */

export type RunKind = 'full' | 'type' | 'user' | 'incremental';
export type RunState = 'running' | 'completed' | 'interrupted' | 'failed';

/** The states a run can be resumed from: each of them stopped after a page committed with its checkpoint. */
export const resumableStates: readonly RunState[] = ['running', 'interrupted', 'failed'];

/**
 * A part of a run, read on its own and checkpointed on its own: a feed range key (`"<min>-<max>"`, see
 * cosmos/feed-ranges.ts) of a run that reads the change feed; `all` or a document type of one user's run.
 */
export type RunPart = DocumentType | 'other' | 'all' | (string & {});

/**
 * How a run reads Cosmos: the change feed by feed range (a full load, a run by type, the incremental
 * catch-up), or single-partition queries (one user). Runs recorded before the change feed was read have
 * no `reader`: they read types with queries, and are not continued.
 */
export type RunReader = 'change-feed' | 'query';

const runScopeSchema = z.object({
  parts: z.array(z.string()).min(1),
  reader: z.enum(['change-feed', 'query']).optional(),
  pubkey: z.string().optional(),
  /** A change-feed run of some types only (`migrate:accounts`): the documents of other types are left alone. */
  types: z.array(z.string()).min(1).optional(),
  /**
   * Per part of a change-feed run, the continuation it starts from (an incremental run: the position
   * PostgreSQL stood at); a part without one starts from the beginning of the change feed.
   */
  start: z.record(z.string(), z.string()).optional(),
  skipExisting: z.boolean(),
});

export type RunScope = Omit<z.infer<typeof runScopeSchema>, 'types'> & { types?: DocumentType[] };

export interface RunCounters {
  processed: number;
  written: number;
  unchanged: number;
  quarantined: number;
  failed: number;
  skipped: number;
  /** Request units the run's Cosmos reads were charged. */
  requestUnits: number;
  /** 429 answers the run's reads met (the SDK's own retries included). */
  throttled: number;
}

export interface RunRecord extends RunCounters {
  id: string;
  kind: RunKind;
  scope: RunScope;
  state: RunState;
  startedAt: Date;
}

type RunRow = Awaited<ReturnType<PrismaClient['migrationRun']['findUniqueOrThrow']>>;

function toRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    kind: row.kind as RunKind,
    scope: runScopeSchema.parse(row.scope) as RunScope,
    state: row.state as RunState,
    startedAt: row.startedAt,
    processed: Number(row.processed),
    written: Number(row.written),
    unchanged: Number(row.unchanged),
    quarantined: Number(row.quarantined),
    failed: Number(row.failed),
    skipped: Number(row.skipped),
    requestUnits: row.requestUnits,
    throttled: Number(row.throttled),
  };
}

/** How a run reads: as its scope says, by query for runs recorded before the change feed was read. */
export function readerOf(scope: Pick<RunScope, 'reader'>): RunReader {
  return scope.reader ?? 'query';
}

/** Records a new run, `running`, with zero counters. */
export async function createRun(prisma: PrismaClient, kind: RunKind, scope: RunScope): Promise<RunRecord> {
  const row = await prisma.migrationRun.create({ data: { id: randomUUID(), kind, scope, state: 'running' } });
  return toRecord(row);
}

/**
 * The run with this id, recorded as {@link createRun} would if there is none yet; otherwise the one already
 * there, whatever its kind and scope (the caller named it, so it is the same run). For a request that may be
 * delivered twice: both deliveries get one run.
 */
export async function createRunOnce(prisma: PrismaClient, id: string, kind: RunKind, scope: () => Promise<RunScope>): Promise<RunRecord> {
  const existing = await findRun(prisma, id);
  if (existing) return existing;
  // ON CONFLICT DO NOTHING: a delivery racing this one may have recorded it in between.
  await prisma.migrationRun.createMany({ data: [{ id, kind, scope: await scope(), state: 'running' }], skipDuplicates: true });
  return toRecord(await prisma.migrationRun.findUniqueOrThrow({ where: { id } }));
}

/** The run, or undefined if there is none with this id. */
export async function findRun(prisma: PrismaClient, runId: string): Promise<RunRecord | undefined> {
  const row = await prisma.migrationRun.findUnique({ where: { id: runId } });
  return row ? toRecord(row) : undefined;
}

/** The most recent unfinished run of this kind whose scope `matches`, to resume. */
export async function findResumableRun(
  prisma: PrismaClient,
  kind: RunKind,
  matches: (scope: RunScope) => boolean,
): Promise<RunRecord | undefined> {
  const rows = await prisma.migrationRun.findMany({
    where: { kind, dryRun: false, state: { in: [...resumableStates] } },
    orderBy: { startedAt: 'desc' },
    take: 20,
  });
  return rows.map(toRecord).find((run) => matches(run.scope));
}

/** Marks a run (re)started, as a resumed interrupted or failed run is running again. */
export async function markRunning(prisma: PrismaClient, runId: string): Promise<void> {
  await prisma.migrationRun.update({
    where: { id: runId },
    data: { state: 'running', error: null, finishedAt: null, updatedAt: new Date(), heartbeatAt: new Date() },
  });
}

/**
 * How often a process working on a run says so (`heartbeatAt`), besides every committed page: a page read
 * under a tight request-unit budget can take longer than a page usually does.
 */
export const heartbeatIntervalMs = 60_000;

/**
 * A `running` run whose heartbeat is older than this was abandoned: the process working on it was killed, or
 * could not record how it ended (PostgreSQL was gone). Five missed heartbeats, so a slow page or a busy
 * database is not taken for one. It is resumable like an interrupted run.
 */
export const abandonedAfterMs = 5 * heartbeatIntervalMs;

/** Whether a run in `state` whose last heartbeat was at `heartbeatAt` is abandoned at `now` (ms). */
export function isAbandoned(state: string, heartbeatAt: Date, now: number): boolean {
  return state === 'running' && now - heartbeatAt.getTime() > abandonedAfterMs;
}

/** Moves the run's heartbeat on while it is `running`. */
export async function heartbeat(prisma: Pick<PrismaClient, 'migrationRun'>, runId: string): Promise<void> {
  await prisma.migrationRun.updateMany({ where: { id: runId, state: 'running' }, data: { heartbeatAt: new Date() } });
}

/** Ends a run; `error` must already be safe to store (no secrets). */
export async function finishRun(
  prisma: Pick<PrismaClient, 'migrationRun'>,
  runId: string,
  state: Exclude<RunState, 'running'>,
  error?: string,
): Promise<void> {
  const now = new Date();
  await prisma.migrationRun.update({ where: { id: runId }, data: { state, error: error ?? null, finishedAt: now, updatedAt: now } });
}
