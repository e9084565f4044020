import type { AppContext } from '../context/app-context.js';
import { sleep } from '../core/clock.js';
import { documentHash } from '../domain/document-hash.js';
import { rowToDocument } from '../domain/mapping.js';
import type { SwitchTarget } from '../domain/phase.js';
import { abandonedAfterMs } from '../migration/runs.js';
import { pendingSyncBacklog } from '../postgres/pending-sync-backlog.js';
import { readRow } from '../postgres/prisma-repository.js';
import { quarantineBlockers } from '../quarantine/quarantine-blockers.js';
import { type ListedDocument, verifyAll } from '../verification/verify-all.js';
import { measureChangeFeedLag } from './change-feed-lag.js';
import { syncModeOf } from './drain.js';

/**
 * What must hold before the primary database changes, each check with its figure and, when it fails, what to
 * do. The figures are the ones the deployed alerts use (docs/deploy.md, "Alerts").
 */
export interface ReadinessCheck {
  name: ReadinessCheckName;
  passed: boolean;
  /** The measured figure, for people ("lag 2 s, 0 pending changes in 4 feed ranges"). */
  figure: string;
  /** What to do when it failed. */
  advice?: string;
  /** The figures behind it, for `--json` and the audit trail. */
  detail?: Record<string, unknown>;
}

export type ReadinessCheckName = 'sync-lag' | 'pending-sync' | 'runs-in-progress' | 'reconcile' | 'quarantine' | 'verification';

export interface ReadinessReport {
  ready: boolean;
  checks: ReadinessCheck[];
}

export interface ReadinessOptions {
  /** The oldest change PostgreSQL may not have applied yet, in seconds, in any feed range. Default 30. */
  maxLagSeconds?: number;
  /** How old the last completed reconcile pass may be (LatestVersion mode, switching to PostgreSQL). Default 24 hours. */
  maxReconcileAgeHours?: number;
  /** Told as each check begins (they can take a while: verification reads every document). */
  onCheck?: (name: ReadinessCheckName) => void;
}

export const defaultMaxLagSeconds = 30;

/** Runs every check that applies to a switch to `target`; `ready` when all passed. */
export async function checkReadiness(ctx: AppContext, target: SwitchTarget, options: ReadinessOptions = {}): Promise<ReadinessReport> {
  const checks: ReadinessCheck[] = [];
  const run = async (name: ReadinessCheckName, check: () => Promise<ReadinessCheck>) => {
    options.onCheck?.(name);
    checks.push(await check());
  };
  if (target !== 'postgresql-only') await run('sync-lag', () => syncLagCheck(ctx, options.maxLagSeconds ?? defaultMaxLagSeconds));
  if (target === 'cosmos') await run('pending-sync', () => pendingSyncCheck(ctx));
  await run('runs-in-progress', () => runsInProgressCheck(ctx));
  if (target === 'postgresql') await run('reconcile', () => reconcileCheck(ctx, options.maxReconcileAgeHours ?? 24));
  await run('quarantine', () => quarantineCheck(ctx));
  if (target !== 'postgresql-only') await run('verification', () => verificationCheck(ctx));
  return { ready: checks.every((check) => check.passed), checks };
}

async function syncLagCheck(ctx: AppContext, maxLagSeconds: number): Promise<ReadinessCheck> {
  const lag = await measureChangeFeedLag(ctx);
  if (!lag.positioned) {
    return {
      name: 'sync-lag',
      passed: false,
      figure: 'no change-feed positions: no full load has completed',
      advice: 'run npm run migrate:full first; the switch drains the change feed from where the full load ended',
    };
  }
  const worst = Math.max(0, ...lag.ranges.map((range) => range.lagSeconds));
  const pending = lag.ranges.reduce((sum, range) => sum + range.pending, 0);
  const more = lag.ranges.some((range) => range.more);
  return {
    name: 'sync-lag',
    passed: worst <= maxLagSeconds && !more,
    figure: `oldest unapplied change ${worst} s old (bound ${maxLagSeconds} s), ${pending}${more ? '+' : ''} change(s) pending in ${lag.ranges.length} feed range(s)`,
    advice:
      "run npm run migrate:sync (continuously, or -- --once right before the switch) so that PostgreSQL's change-feed positions are current",
    detail: { ranges: lag.ranges, maxLagSeconds },
  };
}

async function pendingSyncCheck(ctx: AppContext): Promise<ReadinessCheck> {
  const backlog = await pendingSyncBacklog(ctx.prisma);
  const oldest = backlog.oldestCreatedAt ? Math.round((Date.now() - backlog.oldestCreatedAt.getTime()) / 1000) : undefined;
  return {
    name: 'pending-sync',
    passed: backlog.count === 0,
    figure:
      backlog.count === 0
        ? 'no mirror write waiting for Cosmos'
        : `${backlog.count} mirror write(s) waiting for Cosmos, the oldest ${oldest} s old`,
    advice:
      'run npm run migrate:pending-sync -- --now (Cosmos must be reachable): writes PostgreSQL has not copied to Cosmos would be left behind',
    detail: { count: backlog.count, oldestSeconds: oldest ?? null },
  };
}

async function runsInProgressCheck(ctx: AppContext): Promise<ReadinessCheck> {
  const fresh = new Date(Date.now() - abandonedAfterMs);
  const runs = await ctx.prisma.migrationRun.findMany({
    where: { state: 'running', heartbeatAt: { gte: fresh } },
    select: { id: true, kind: true },
  });
  const passes = await ctx.prisma.reconcilePass.findMany({ where: { state: 'running', updatedAt: { gte: fresh } }, select: { id: true } });
  const names = [...runs.map((run) => `${run.kind} run ${run.id}`), ...passes.map((pass) => `reconcile pass ${pass.id}`)];
  return {
    name: 'runs-in-progress',
    passed: names.length === 0,
    figure: names.length === 0 ? 'no migration run or reconcile pass in progress' : `in progress: ${names.join(', ')}`,
    advice:
      'wait for them to finish (npm run migrate:stats shows them), or stop them: a run writing from Cosmos during the switch would go backwards',
    detail: { runs: runs.map((run) => run.id), reconcilePasses: passes.map((pass) => pass.id) },
  };
}

async function reconcileCheck(ctx: AppContext, maxAgeHours: number): Promise<ReadinessCheck> {
  if ((await syncModeOf(ctx)) === 'AllVersionsAndDeletes') {
    return { name: 'reconcile', passed: true, figure: 'not needed: the sync applies deletes (AllVersionsAndDeletes mode)' };
  }
  const [pass, load] = await Promise.all([
    ctx.prisma.reconcilePass.findFirst({
      where: { state: 'completed', dryRun: false },
      orderBy: { finishedAt: 'desc' },
      select: { id: true, startedAt: true, finishedAt: true, removed: true },
    }),
    ctx.prisma.migrationRun.findFirst({
      where: { kind: 'full', state: 'completed' },
      orderBy: { finishedAt: 'desc' },
      select: { finishedAt: true },
    }),
  ]);
  const advice =
    'run npm run migrate:reconcile -- --apply: in LatestVersion mode the change feed never shows a delete, so rows of documents deleted ' +
    'in Cosmos stay in PostgreSQL until a reconcile pass removes them';
  if (!pass?.finishedAt) return { name: 'reconcile', passed: false, figure: 'no reconcile pass has been applied', advice };
  const ageHours = (Date.now() - pass.finishedAt.getTime()) / 3_600_000;
  const afterLoad = !load?.finishedAt || pass.startedAt >= load.finishedAt;
  return {
    name: 'reconcile',
    passed: afterLoad && ageHours <= maxAgeHours,
    figure:
      `last applied pass ${pass.id} finished ${ageHours.toFixed(1)} h ago (bound ${maxAgeHours} h), removed ${pass.removed}` +
      (afterLoad ? '' : '; it started before the last full load ended'),
    advice,
    detail: { passId: pass.id, finishedAt: pass.finishedAt.toISOString(), ageHours, afterLastFullLoad: afterLoad },
  };
}

async function quarantineCheck(ctx: AppContext): Promise<ReadinessCheck> {
  const blockers = await quarantineBlockers(ctx.prisma);
  const byReason = Object.entries(blockers.byReason)
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
  return {
    name: 'quarantine',
    passed: blockers.count === 0,
    figure:
      blockers.count === 0
        ? 'no quarantined version newer than its row or waiting for a row'
        : `${blockers.count} quarantined version(s) newer than their row or waiting for a row (${byReason}), e.g. ${blockers.examples.join(', ')}`,
    advice: 'settle them (npm run migrate:quarantine): after the switch PostgreSQL would serve an older version than Cosmos holds, or none',
    detail: { count: blockers.count, byReason: blockers.byReason, examples: blockers.examples },
  };
}

async function verificationCheck(ctx: AppContext): Promise<ReadinessCheck> {
  const report = await verifyAll(ctx, { maxListed: 100 });
  const findings = [report.missingInPostgres, report.missingInCosmos, report.different, report.competing, report.newerThanRow];
  const differences = findings.reduce((sum, finding) => sum + finding.count, 0);
  const listed = findings.flatMap((finding) => finding.listed);
  // On a live system a document written between its read in Cosmos and its lookup in PostgreSQL looks different
  // once; a second look at each, while the sync catches up, tells those from real differences.
  const settled = report.consistent || (listed.length === differences && (await agreeSoon(ctx, listed, settleWaitMs)));
  const compared = Object.values(report.types).reduce((sum, type) => sum + type.compared, 0);
  return {
    name: 'verification',
    passed: settled && report.otherTypes.missing.count === 0,
    figure:
      `${compared} document(s) compared field by field: ${differences} difference(s)` +
      (differences > 0 && settled ? ', each gone on a second look (written while the verification ran)' : '') +
      `; ${report.quarantined.count} quarantined (no table can hold them)`,
    advice: 'run npm run migrate:verify -- --all for the list (and --repair to migrate the differing documents again)',
    detail: {
      compared,
      differences,
      missingInPostgres: report.missingInPostgres.count,
      missingInCosmos: report.missingInCosmos.count,
      different: report.different.count,
      competing: report.competing.count,
      newerThanRow: report.newerThanRow.count,
      quarantined: report.quarantined.count,
    },
  };
}

/** How long the second look waits for the sync to carry the documents found different. */
const settleWaitMs = 15_000;

/** Whether each document agrees on both sides within `waitMs` (looked at again every half second). */
async function agreeSoon(ctx: AppContext, documents: readonly ListedDocument[], waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  let pending = [...documents];
  for (;;) {
    const agreeing = await Promise.all(pending.map((document) => agreesNow(ctx, document)));
    pending = pending.filter((_, index) => !agreeing[index]);
    if (pending.length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(500);
  }
}

/** One document's Cosmos version and PostgreSQL row hold the same content now (or neither side has it). */
async function agreesNow(ctx: AppContext, document: ListedDocument): Promise<boolean> {
  const [{ resource }, row] = await Promise.all([
    ctx.cosmos.item(document.id, document.pubkey).read<Record<string, unknown>>(),
    readRow(ctx.prisma, document.type, document.id, document.pubkey),
  ]);
  if (!resource || !row) return !resource && !row;
  return documentHash(resource) === documentHash(rowToDocument(document.type, row));
}
