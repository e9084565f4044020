import { randomUUID } from 'node:crypto';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { InterruptedError, MigrationRunNotFoundError, NothingToResumeError, throwIfInterrupted } from '../core/errors.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { readDocumentPages } from '../cosmos/document-source.js';
import { defaultBatchSize } from '../domain/batch-size.js';
import type { ApplyResult } from '../write-path/apply-documents.js';
import { type Checkpoint, checkpointAfter, loadCheckpoints } from './checkpoints.js';
import { completeRun } from './complete-run.js';
import { applyPage } from './migrate-page.js';
import { assertMayMigrate } from './migration-mode.js';
import {
  createRun,
  findResumableRun,
  findRun,
  finishRun,
  markRunning,
  type RunCounters,
  type RunKind,
  type RunPart,
  type RunRecord,
  type RunScope,
} from './runs.js';

/**
 * The migration loop shared by every kind of run: for each part of the run's scope, read pages from
 * Cosmos (the next one is fetched while the current one is written) and apply each (`applyPage`: its
 * documents and the part's checkpoint after it commit in one transaction). A run killed at any point
 * resumes after its last committed page; replaying a page is harmless anyway (writes are idempotent and
 * version-guarded), so a resumed run ends exactly where an uninterrupted one would.
 */

export interface MigrationOptions {
  /** Documents per Cosmos page, and so per PostgreSQL transaction. Default 100 (the guide's); 500-1000 is faster. */
  batchSize?: number;
  /** Leave documents whose row already exists alone (counted as `skipped`). */
  skipExisting?: boolean;
  /** Read and classify everything, write nothing at all (no run is recorded either). Allowed without MIGRATION_MODE. */
  dryRun?: boolean;
  /**
   * Continue the latest unfinished (running, interrupted or failed) run of the same scope from its
   * checkpoints: `true` starts a new run when there is none, `'required'` refuses with
   * `NothingToResumeError` instead (a person who asked to resume did not ask for a new run).
   */
  resume?: boolean | 'required';
  /** Request-unit budget for reading Cosmos (per part being read: divide by `concurrency` for a total). */
  maxRequestUnitsPerSecond?: number;
  /**
   * Parts (document types) migrated at the same time, each with its own reader, transaction and
   * checkpoint. Default 2: while one part's page is being written, this process maps the other's, so
   * both the database and this process stay busy (npm run bench). The Prisma pool (DATABASE_POOL_SIZE)
   * must have a connection for each.
   */
  concurrency?: number;
  /** Called after every page, and once more when the run ends (`done: true`). */
  onProgress?: (progress: MigrationProgress) => void;
  /**
   * Stops the run cleanly: checked after each committed page, so every part being read stops after the
   * page it is writing, with its checkpoint, and no further part starts. The run then throws `InterruptedError`
   * and is recorded as `interrupted`, which `resume` continues exactly after the last committed page.
   */
  signal?: AbortSignal;
}

export interface MigrationProgress extends RunCounters {
  /** The run's id in `migration_runs` (a dry run's id is not stored). */
  runId: string;
  kind: RunKind;
  /** The part being read: a document type, `other` (documents of no known type) or `all` (all of one user's). */
  type: RunPart;
  dryRun: boolean;
  /** Rows of other documents moved to the quarantine by newer documents of the same pubkey. */
  displaced: number;
  /**
   * Documents read so far in each part, as its checkpoint counts them (so a resumed run includes the
   * pages it committed before); they add up to `processed` for a run started afresh.
   */
  processedByPart: Partial<Record<RunPart, number>>;
  /** True once the whole run has finished. */
  done: boolean;
}

/** What a new run covers. */
export interface RunPlan {
  kind: RunKind;
  scope: RunScope;
}

function addResult(counters: RunCounters & { displaced: number }, result: ApplyResult, pageSize: number): void {
  counters.processed += pageSize;
  counters.written += result.written;
  counters.unchanged += result.unchanged;
  counters.quarantined += result.quarantined;
  counters.failed += result.failed;
  counters.skipped += result.skipped;
  counters.displaced += result.displaced;
}

async function execute(
  ctx: AppContext,
  run: Pick<RunRecord, 'id' | 'kind' | 'scope' | 'startedAt'> & RunCounters,
  options: MigrationOptions,
): Promise<MigrationProgress> {
  const dryRun = options.dryRun === true;
  const checkpoints = dryRun ? new Map<RunPart, Checkpoint>() : await loadCheckpoints(ctx.prisma, run.id);
  const progress: MigrationProgress = {
    runId: run.id,
    kind: run.kind,
    type: run.scope.parts[0] as RunPart,
    dryRun,
    ...countersOf(run),
    displaced: 0,
    processedByPart: Object.fromEntries([...checkpoints].map(([part, checkpoint]) => [part, checkpoint.processed])),
    done: false,
  };
  let failure: { error: unknown } | undefined;
  // Set when a part stopped with pages left because the signal was aborted (an object: set inside the lanes).
  const stopped = { interrupted: false };
  const migratePart = async (part: RunPart) => {
    let position: Checkpoint = checkpoints.get(part) ?? { continuation: null, done: false, processed: 0, maxCosmosTs: 0 };
    const pages = readDocumentPages(
      ctx.cosmos,
      { type: part === 'all' ? undefined : part, pubkey: run.scope.pubkey, changedSince: run.scope.since?.[part] },
      {
        batchSize: options.batchSize ?? defaultBatchSize,
        continuation: position.continuation ?? undefined,
        maxRequestUnitsPerSecond: options.maxRequestUnitsPerSecond,
      },
    );
    const target = { runId: run.id, part, dryRun, skipExisting: run.scope.skipExisting };
    for await (const page of pages) {
      // The loop goes on from where it last committed; it does not compare that with the saved checkpoint
      // as a queue step must (two processes resuming one run at once only duplicate work: see resumeRun).
      const from = position;
      const result = await applyPage(ctx.prisma, target, page, () => Promise.resolve(from));
      position = checkpointAfter(from, page);
      progress.type = part;
      progress.processedByPart[part] = position.processed;
      addResult(progress, result, page.documents.length);
      options.onProgress?.({ ...progress, processedByPart: { ...progress.processedByPart } });
      // Another part failed, or the caller asked to stop: stop after this committed page, the run will be resumed from here.
      if (failure) return;
      if (options.signal?.aborted && !page.done) {
        stopped.interrupted = true;
        return;
      }
    }
  };
  const pending = run.scope.parts.filter((part) => !checkpoints.get(part)?.done);
  const worker = async () => {
    for (let part = pending.shift(); part !== undefined && !failure; part = pending.shift()) {
      try {
        await migratePart(part);
      } catch (error) {
        failure ??= { error };
      }
      // After the part's last committed page: the parts not started yet are left for the resumed run.
      if (options.signal?.aborted && pending.length > 0) {
        stopped.interrupted = true;
        return;
      }
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency ?? defaultConcurrency, pending.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  if (failure) throw failure.error;
  if (stopped.interrupted) throwIfInterrupted(options.signal);
  if (!dryRun) await completeRun(ctx.prisma, run);
  progress.done = true;
  options.onProgress?.({ ...progress, processedByPart: { ...progress.processedByPart } });
  return progress;
}

const defaultConcurrency = 2;

/** A plan in words, for messages: "full migration", "account migration", "migration of user <pubkey>". */
function describePlan(plan: RunPlan): string {
  if (plan.kind === 'user') return `migration of user ${plan.scope.pubkey ?? ''}`.trim();
  if (plan.kind === 'type') return `${plan.scope.parts.join(', ')} migration`;
  return `${plan.kind} migration`;
}

const zeroCounters: RunCounters = { processed: 0, written: 0, unchanged: 0, quarantined: 0, failed: 0, skipped: 0 };

/**
 * Runs `execute`, recording how it ended before rethrowing: `interrupted` when it stopped on request,
 * otherwise `failed` with the error (secrets masked).
 */
async function executeRecorded(ctx: AppContext, run: RunRecord, options: MigrationOptions): Promise<MigrationProgress> {
  try {
    return await execute(ctx, run, options);
  } catch (error) {
    const state = error instanceof InterruptedError ? 'interrupted' : 'failed';
    await finishRun(ctx.prisma, run.id, state, safeErrorMessage(error, secretsOf(ctx.config))).catch(() => undefined);
    throw error;
  }
}

/**
 * Starts a run of the plan, or with `resume` continues the latest unfinished run whose scope `sameScope`
 * accepts (a new run if there is none, unless `resume` is `'required'`). Refuses to write without
 * MIGRATION_MODE=true.
 */
export async function startMigration(
  ctx: AppContext,
  plan: RunPlan,
  options: MigrationOptions,
  sameScope: (scope: RunScope) => boolean,
): Promise<MigrationProgress> {
  const dryRun = options.dryRun === true;
  assertMayMigrate(ctx.config, dryRun);
  if (dryRun) {
    return execute(ctx, { id: randomUUID(), kind: plan.kind, scope: plan.scope, startedAt: new Date(), ...zeroCounters }, options);
  }
  const resumable = options.resume ? await findResumableRun(ctx.prisma, plan.kind, sameScope) : undefined;
  if (resumable) {
    await markRunning(ctx.prisma, resumable.id);
    return executeRecorded(ctx, resumable, options);
  }
  if (options.resume === 'required') throw new NothingToResumeError(describePlan(plan));
  return executeRecorded(ctx, await createRun(ctx.prisma, plan.kind, plan.scope), options);
}

/**
 * Continues run `runId` from its checkpoints (a run killed mid-way stays `running`; one stopped on
 * request is `interrupted`; one that threw is `failed`). A completed run is returned as it is. Two processes resuming the same run at once do
 * no harm beyond duplicated work: every write is idempotent and version-guarded.
 */
export async function resumeRun(
  ctx: AppContext,
  runId: string,
  options: Omit<MigrationOptions, 'dryRun' | 'resume'> = {},
): Promise<MigrationProgress> {
  assertMayMigrate(ctx.config, false);
  const run = await findRun(ctx.prisma, runId);
  if (!run) throw new MigrationRunNotFoundError(runId);
  if (run.state === 'completed') {
    const progress: MigrationProgress = {
      runId,
      kind: run.kind,
      type: run.scope.parts.at(-1) as RunPart,
      dryRun: false,
      ...countersOf(run),
      displaced: 0,
      processedByPart: {},
      done: true,
    };
    options.onProgress?.(progress);
    return progress;
  }
  await markRunning(ctx.prisma, run.id);
  return executeRecorded(ctx, run, options);
}

function countersOf(run: RunCounters): RunCounters {
  return {
    processed: run.processed,
    written: run.written,
    unchanged: run.unchanged,
    quarantined: run.quarantined,
    failed: run.failed,
    skipped: run.skipped,
  };
}
