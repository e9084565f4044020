import { randomUUID } from 'node:crypto';
import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { InterruptedError, MigrationRunNotFoundError, NothingToResumeError, throwIfInterrupted } from '../core/errors.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { defaultBatchSize } from '../domain/batch-size.js';
import type { ApplyResult } from '../write-path/apply-documents.js';
import { type Checkpoint, loadCheckpoints, partStart } from './checkpoints.js';
import { completeRun, completeRunIfDone } from './complete-run.js';
import { assertCosmosIsPrimary, assertMayMigrate } from './migration-mode.js';
import { CheckpointMovedError, commitPage } from './page-step.js';
import { partReader } from './part-reader.js';
import { readSettingsOf } from './read-budget.js';
import {
  createRun,
  findResumableRun,
  findRun,
  finishRun,
  heartbeat,
  heartbeatIntervalMs,
  markRunning,
  type RunCounters,
  type RunKind,
  type RunPart,
  type RunRecord,
  type RunScope,
} from './runs.js';

/**
 * The migration loop shared by every kind of run: up to `concurrency` parts at once (the feed ranges of
 * a full load, a type, a user's partition), each read page by page (the next page is fetched while the
 * current one is written) and each page committed through the engine's page step (`commitPage`: its
 * documents and the part's checkpoint after it commit in one transaction, compare-and-set). A run killed
 * at any point resumes after its last committed page; replaying a page is harmless anyway (writes are
 * idempotent and version-guarded), so a resumed run ends exactly where an uninterrupted one would.
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
  /**
   * Request units per second for reading Cosmos, shared with every chain and process reading under the
   * same budget (a bucket in PostgreSQL). Default: MIGRATION_MAX_RU_PER_SECOND; unset, no limit.
   */
  maxRequestUnitsPerSecond?: number;
  /**
   * Parts (feed ranges, types) migrated at the same time, each with its own reader, transaction and
   * checkpoint. Default 4. The Prisma pool (DATABASE_POOL_SIZE, default 5) must have a connection for each.
   */
  concurrency?: number;
  /**
   * Only these parts of the run; the others are left to other processes working on the same run (each
   * page step is compare-and-set, so two processes on one part only duplicate a read). Default: all.
   */
  parts?: readonly RunPart[];
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
  /** The part a page was last committed for: a feed range key, a document type, `other` or `all` (one user's). */
  part: RunPart;
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
  /** The run in words, for messages: "full migration", "account migration", "migration of user <pubkey>". */
  description: string;
  /** Its scope, made only when a new run starts (it may read Cosmos: the feed ranges). */
  scope: () => Promise<RunScope>;
}

function addResult(
  counters: MigrationProgress,
  result: ApplyResult,
  page: { size: number; requestCharge: number; throttled: number },
): void {
  counters.processed += page.size;
  counters.written += result.written;
  counters.unchanged += result.unchanged;
  counters.quarantined += result.quarantined;
  counters.failed += result.failed;
  counters.skipped += result.skipped;
  counters.displaced += result.displaced;
  counters.requestUnits += page.requestCharge;
  counters.throttled += page.throttled;
}

const defaultConcurrency = 4;

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
    part: run.scope.parts[0] as RunPart,
    dryRun,
    ...countersOf(run),
    displaced: 0,
    processedByPart: Object.fromEntries(run.scope.parts.map((part) => [part, checkpoints.get(part)?.processed ?? 0])),
    done: false,
  };
  const report = () => options.onProgress?.({ ...progress, processedByPart: { ...progress.processedByPart } });
  const read = { ...readSettingsOf(ctx, options.maxRequestUnitsPerSecond), batchSize: options.batchSize ?? defaultBatchSize };
  let failure: { error: unknown } | undefined;
  // Set when a part stopped with pages left because the signal was aborted (an object: set inside the lanes).
  const stopped = { interrupted: false, takenOver: false };
  const migratePart = async (part: RunPart) => {
    let position: Checkpoint = checkpoints.get(part) ?? partStart;
    const reader = partReader(ctx.cosmos, run.scope, part, position.continuation, read);
    const target = { runId: run.id, part, dryRun, skipExisting: run.scope.skipExisting };
    let next = reader.read();
    for (;;) {
      const page = await next;
      if (!page.next.done) {
        next = reader.read();
        // Observed when awaited; this keeps an abandoned prefetch from becoming an unhandled rejection.
        next.catch(() => undefined);
      }
      let committed: Awaited<ReturnType<typeof commitPage>>;
      try {
        committed = await commitPage(ctx.prisma, target, page, { continuation: position.continuation, at: position });
      } catch (error) {
        // Another process resuming the same run committed this page first: the part is in its hands now.
        if (!(error instanceof CheckpointMovedError)) throw error;
        stopped.takenOver = true;
        return;
      }
      position = committed.checkpoint;
      progress.part = part;
      progress.processedByPart[part] = position.processed;
      addResult(progress, committed.result, { size: page.documents.length, requestCharge: page.requestCharge, throttled: page.throttled });
      report();
      if (page.next.done) return;
      // Another part failed, or the caller asked to stop: stop after this committed page, the run will be resumed from here.
      if (failure) return;
      if (options.signal?.aborted) {
        stopped.interrupted = true;
        return;
      }
    }
  };
  const wanted = options.parts ? new Set(options.parts) : undefined;
  const pending = run.scope.parts.filter((part) => !checkpoints.get(part)?.done && (!wanted || wanted.has(part)));
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
  // What the last reads were charged is otherwise only a debt of this process's next read: a run of a page or
  // two (one user's partition) ends once the shared budget has covered it, as a long run does page by page.
  await read.budget?.settle(options.signal);
  if (stopped.interrupted) throwIfInterrupted(options.signal);
  if (!dryRun) {
    if (wanted || stopped.takenOver) progress.done = await completeRunIfDone(ctx.prisma, run.id);
    else {
      await completeRun(ctx.prisma, run);
      progress.done = true;
    }
  } else progress.done = true;
  report();
  return progress;
}

const zeroCounters: RunCounters = {
  processed: 0,
  written: 0,
  unchanged: 0,
  quarantined: 0,
  failed: 0,
  skipped: 0,
  requestUnits: 0,
  throttled: 0,
};

/** Errors of runs whose end could not be recorded (PostgreSQL was gone): the run row still says `running`. */
const unrecorded = new WeakSet<object>();

/**
 * Whether the run that threw `error` was recorded as ended (`failed` or `interrupted`). When it was not, its
 * row stays `running` and its heartbeat stops: stats show it as abandoned once `abandonedAfterMs` has passed.
 */
export function runEndRecorded(error: unknown): boolean {
  return !(typeof error === 'object' && error !== null && unrecorded.has(error));
}

/**
 * Runs `execute` with a heartbeat, recording how it ended before rethrowing: `interrupted` when it stopped on
 * request, otherwise `failed` with the error (secrets masked). If even that cannot be written, the error says
 * so ({@link runEndRecorded}) and the stopped heartbeat tells everyone else.
 */
async function executeRecorded(ctx: AppContext, run: RunRecord, options: MigrationOptions): Promise<MigrationProgress> {
  const beat = setInterval(() => void heartbeat(ctx.prisma, run.id).catch(() => undefined), heartbeatIntervalMs);
  beat.unref();
  try {
    return await execute(ctx, run, options);
  } catch (error) {
    const state = error instanceof InterruptedError ? 'interrupted' : 'failed';
    try {
      await finishRun(ctx.prisma, run.id, state, safeErrorMessage(error, secretsOf(ctx.config)));
    } catch {
      if (typeof error === 'object' && error !== null) unrecorded.add(error);
    }
    throw error;
  } finally {
    clearInterval(beat);
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
  if (!dryRun) await assertCosmosIsPrimary(ctx, `A ${plan.kind} migration`);
  if (dryRun) {
    return execute(ctx, { id: randomUUID(), kind: plan.kind, scope: await plan.scope(), startedAt: new Date(), ...zeroCounters }, options);
  }
  const resumable = options.resume ? await findResumableRun(ctx.prisma, plan.kind, sameScope) : undefined;
  if (resumable) {
    await markRunning(ctx.prisma, resumable.id);
    return executeRecorded(ctx, resumable, options);
  }
  if (options.resume === 'required') throw new NothingToResumeError(plan.description);
  return executeRecorded(ctx, await createRun(ctx.prisma, plan.kind, await plan.scope()), options);
}

/**
 * Continues run `runId` from its checkpoints (a run killed mid-way stays `running`; one stopped on
 * request is `interrupted`; one that threw is `failed`). A completed run is returned as it is. Two
 * processes resuming the same run at once do no harm: each page commits compare-and-set, so the second
 * to read a page finds it committed and leaves that part to the first.
 */
export async function resumeRun(
  ctx: AppContext,
  runId: string,
  options: Omit<MigrationOptions, 'dryRun' | 'resume'> = {},
): Promise<MigrationProgress> {
  assertMayMigrate(ctx.config, false);
  await assertCosmosIsPrimary(ctx, 'Resuming a migration run');
  const run = await findRun(ctx.prisma, runId);
  if (!run) throw new MigrationRunNotFoundError(runId);
  if (run.state === 'completed') {
    const checkpoints = await loadCheckpoints(ctx.prisma, runId);
    const progress: MigrationProgress = {
      runId,
      kind: run.kind,
      part: run.scope.parts.at(-1) as RunPart,
      dryRun: false,
      ...countersOf(run),
      displaced: 0,
      processedByPart: Object.fromEntries(run.scope.parts.map((part) => [part, checkpoints.get(part)?.processed ?? 0])),
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
    requestUnits: run.requestUnits,
    throttled: run.throttled,
  };
}
