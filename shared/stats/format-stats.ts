import { type DocumentType, documentTypeNames } from '../domain/document-types.js';
import type { ReconcilePassSummary } from '../migration/reconcile-passes.js';
import { otherType } from './document-counts.js';
import type { LastRun, LastSwitch, MigrationStats } from './migration-stats.js';
import { formatAge, formatCount, typeLabels } from './type-labels.js';

/**
 * The guide's `npm run migrate:stats` layout, all seven types, followed by the open quarantine (its reasons,
 * and the settled entries, when there are any), the pending mirror writes (while there are any) and the last
 * run (the note under the progress appears only when something is quarantined):
 *
 * ```
 * === Migration Statistics ===
 * CosmosDB:
 *   Accounts: 1,525
 * PostgreSQL:
 *   Accounts: 1,523
 *
 * Migration Progress:
 *   Accounts: 100.0%
 *   (rows plus quarantined documents, of the Cosmos count: a quarantined document counts as handled)
 *
 * Quarantined: 2 (Accounts: 2)
 *   Open, by reason: conflict 1, unmappable 1
 *   Settled (kept, not counted): 3 resolved, 1 closed (deleted in Cosmos)
 * Pending Cosmos writes (pending_sync): 2, the oldest recorded 2026-11-25T07:58:00.000Z (2m 3s ago), the next due 2026-11-25T08:00:10.000Z
 * Last run: full completed, started 2026-11-24T10:00:00.000Z, finished 2026-11-24T10:02:13.512Z; 1,525 processed, 1,523 written, 0 unchanged, 2 quarantined, 0 failed; Cosmos reads: 1,210 RU, 0 throttled (429)
 * Last reconcile: completed, started 2026-11-25T08:00:00.000Z, finished 2026-11-25T08:00:41.200Z; 1,523 compared, 3 missing in Cosmos, 3 confirmed gone, 3 removed, 0 kept (created again), 0 kept (changed since read); Cosmos reads: 52 RU, 0 throttled (429)
 * ```
 */
export function formatStatsForHumans(stats: MigrationStats): string {
  const section = (values: Record<DocumentType, number>, format: (value: number) => string) =>
    documentTypeNames.map((type) => `  ${typeLabels[type]}: ${format(values[type])}`);
  return [
    '=== Migration Statistics ===',
    'CosmosDB:',
    ...section(stats.cosmos, formatCount),
    'PostgreSQL:',
    ...section(stats.postgres, formatCount),
    '',
    'Migration Progress:',
    ...section(stats.progress, (percent) => `${percent.toFixed(1)}%`),
    ...(stats.quarantined > 0 ? [progressNote] : []),
    '',
    `Quarantined: ${formatCount(stats.quarantined)}${quarantineBreakdown(stats)}`,
    ...quarantineDetail(stats),
    ...pendingLines(stats),
    `Last run: ${stats.lastRun ? describeRun(stats.lastRun) : 'none'}`,
    // Only once a pass has run: reconciling is for LatestVersion mode's deletes, and many never need it.
    ...(stats.lastReconcile ? [`Last reconcile: ${describeReconcile(stats.lastReconcile)}`] : []),
    // Only once a switch was recorded: until then the settings (USE_POSTGRESQL, DUAL_DATABASE_MODE) say the phase.
    ...(stats.phase ? [`Primary: ${stats.phase} (recorded by migrate:switch)`] : []),
    ...(stats.lastSwitch ? [`Last switch: ${describeSwitch(stats.lastSwitch)}`] : []),
  ].join('\n');
}

function describeSwitch(last: LastSwitch): string {
  const pause = last.pauseMs === null ? '' : `, writes held ${formatCount(last.pauseMs)} ms`;
  return `to ${last.target}, ${last.state}, started ${last.startedAt}${last.finishedAt ? `, finished ${last.finishedAt}` : ''}${pause}${last.error ? `: ${last.error}` : ''}`;
}

/**
 * Progress counts a quarantined document as handled (see `MigrationStats.progress`), so 100% can stand
 * next to fewer PostgreSQL rows than Cosmos documents; said where it happens, so nobody reads it as a bug.
 */
const progressNote = '  (rows plus quarantined documents, of the Cosmos count: a quarantined document counts as handled)';

function quarantineBreakdown(stats: MigrationStats): string {
  const labels: Record<DocumentType | typeof otherType, string> = { ...typeLabels, [otherType]: 'Unknown type' };
  const parts = Object.entries(stats.quarantinedByType)
    .filter(([, count]) => count > 0)
    .map(([type, count]) => `${labels[type as keyof typeof labels]}: ${formatCount(count)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** The open entries' reasons, and the settled ones kept for audit, when there are any. */
function quarantineDetail(stats: MigrationStats): string[] {
  const reasons = Object.entries(stats.quarantinedByReason)
    .filter(([, count]) => count > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([reason, count]) => `${reason} ${formatCount(count)}`);
  const { resolved, closed } = stats.quarantineSettled;
  const settled =
    resolved + closed > 0
      ? [`  Settled (kept, not counted): ${formatCount(resolved)} resolved, ${formatCount(closed)} closed (deleted in Cosmos)`]
      : [];
  return [...(reasons.length > 0 ? [`  Open, by reason: ${reasons.join(', ')}`] : []), ...settled];
}

/** Mirror writes not yet in Cosmos: shown only while there are some, as dual mode with PostgreSQL primary has them. */
function pendingLines(stats: MigrationStats): string[] {
  const { count, oldestCreatedAt, oldestAgeSeconds, nextAttempt } = stats.pendingSync;
  if (count === 0) return [];
  return [
    `Pending Cosmos writes (pending_sync): ${formatCount(count)}, the oldest recorded ${oldestCreatedAt} ` +
      `(${formatAge(oldestAgeSeconds ?? 0)} ago), the next due ${nextAttempt}`,
  ];
}

function describeRun(run: LastRun): string {
  const when = `started ${run.startedAt}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`;
  const counters = [
    `${formatCount(run.processed)} processed`,
    `${formatCount(run.written)} written`,
    `${formatCount(run.unchanged)} unchanged`,
    `${formatCount(run.quarantined)} quarantined`,
    `${formatCount(run.failed)} failed`,
  ].join(', ');
  const reads = `; Cosmos reads: ${formatCount(Math.round(run.requestUnits))} RU, ${formatCount(run.throttled)} throttled (429)`;
  const error = run.error ? `; error: ${run.error}` : '';
  const state = run.abandoned
    ? `running, but ABANDONED (no heartbeat since ${run.heartbeatAt}: killed, or it could not record its end; continue it with --resume)`
    : run.state;
  return `${run.kind}${run.dryRun ? ' (dry run)' : ''} ${state}, ${when}; ${counters}${reads}${error}`;
}

function describeReconcile(pass: ReconcilePassSummary): string {
  const when = `started ${pass.startedAt}${pass.finishedAt ? `, finished ${pass.finishedAt}` : ''}`;
  const counters = [
    `${formatCount(pass.scanned)} compared`,
    `${formatCount(pass.candidates)} missing in Cosmos`,
    `${formatCount(pass.confirmed)} confirmed gone`,
    `${formatCount(pass.removed)} removed`,
    `${formatCount(pass.keptRecreated)} kept (created again)`,
    `${formatCount(pass.keptChanged)} kept (changed since read)`,
  ].join(', ');
  const reads = `; Cosmos reads: ${formatCount(Math.round(pass.requestUnits))} RU, ${formatCount(pass.throttled)} throttled (429)`;
  const error = pass.error ? `; error: ${pass.error}` : '';
  return `${pass.dryRun ? '(dry run) ' : ''}${pass.state}, ${when}; ${counters}${reads}${error}`;
}
