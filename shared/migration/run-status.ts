import type { PrismaClient } from '../postgres/prisma-client.js';
import { type Checkpoint, loadCheckpoints } from './checkpoints.js';
import { isAbandoned } from './runs.js';

export interface PartProgress {
  /**
   * A feed range of a full load or an incremental run (`"<min>-<max>"`, its effective partition key bounds),
   * a document type, `other` (documents of no known type) or `all` (all of one user's documents).
   */
  part: string;
  /** Not started: no page of this part has been committed yet. */
  started: boolean;
  done: boolean;
  /** Documents read in this part so far. */
  processed: number;
  /** The newest `_ts` read in this part (seconds). */
  maxCosmosTs: number;
}

export interface RunCountersView {
  processed: number;
  written: number;
  unchanged: number;
  skipped: number;
  quarantined: number;
  failed: number;
  /** Request units the run's Cosmos reads were charged. */
  requestUnits: number;
  /** 429 answers its reads met (the SDK's own retries included). */
  throttled: number;
}

export interface RunStatus {
  id: string;
  kind: string;
  state: string;
  dryRun: boolean;
  pubkey: string | null;
  skipExisting: boolean;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** When a process working on it last said so (ISO 8601). */
  heartbeatAt: string;
  /** `running` with a heartbeat older than `abandonedAfterMs`: killed, or unable to record its end; resumable. */
  abandoned: boolean;
  /** How it reads Cosmos: the change feed by feed range, or queries (runs recorded before the change feed was read say `query`). */
  reader: 'change-feed' | 'query';
  /** Why the run failed, already masked when it was stored. */
  error: string | null;
  counters: RunCountersView;
  /** Parts done out of parts in the run's scope. */
  partsDone: number;
  parts: PartProgress[];
}

/** A run with its counters and its per-part checkpoints (`GET /api/migration/runs/{runId}`); undefined if unknown. */
export async function getRunStatus(prisma: PrismaClient, runId: string): Promise<RunStatus | undefined> {
  const [run, checkpoints] = await Promise.all([prisma.migrationRun.findUnique({ where: { id: runId } }), loadCheckpoints(prisma, runId)]);
  if (!run) return undefined;
  // Scope parts are read back as plain strings, so the map is looked up as one keyed by strings.
  const byPart: ReadonlyMap<string, Checkpoint> = checkpoints;
  const scope = (run.scope ?? {}) as { parts?: unknown; pubkey?: unknown; skipExisting?: unknown; reader?: unknown };
  const scopeParts = Array.isArray(scope.parts) ? scope.parts.filter((part): part is string => typeof part === 'string') : [];
  const parts = scopeParts.map((part): PartProgress => {
    const checkpoint = byPart.get(part);
    return {
      part,
      started: checkpoint !== undefined && (checkpoint.done || checkpoint.continuation !== null || checkpoint.processed > 0),
      done: checkpoint?.done ?? false,
      processed: checkpoint?.processed ?? 0,
      maxCosmosTs: checkpoint?.maxCosmosTs ?? 0,
    };
  });
  return {
    id: run.id,
    kind: run.kind,
    state: run.state,
    dryRun: run.dryRun,
    reader: scope.reader === 'change-feed' ? 'change-feed' : 'query',
    pubkey: typeof scope.pubkey === 'string' ? scope.pubkey : null,
    skipExisting: scope.skipExisting === true,
    startedAt: run.startedAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    heartbeatAt: run.heartbeatAt.toISOString(),
    abandoned: isAbandoned(run.state, run.heartbeatAt, Date.now()),
    error: run.error,
    counters: {
      processed: Number(run.processed),
      written: Number(run.written),
      unchanged: Number(run.unchanged),
      skipped: Number(run.skipped),
      quarantined: Number(run.quarantined),
      failed: Number(run.failed),
      requestUnits: Math.round(run.requestUnits * 100) / 100,
      throttled: Number(run.throttled),
    },
    partsDone: parts.filter((part) => part.done).length,
    parts,
  };
}
