import { rangeLabel } from '../shared/cosmos/feed-ranges.js';
import { formatCount } from '../shared/stats/type-labels.js';
import type { SyncPageEvent } from '../shared/sync/sync-runner.js';

/** One applied page of the sync runner, for people: its range and what became of its changes. */
export function describeSyncPage(event: SyncPageEvent): string {
  const head = `range ${rangeLabel(event.range)}: ${formatCount(event.changes)} change(s)`;
  const outcome = event.outcome;
  if (!outcome) return head;
  if (outcome.kind !== 'applied') return `${head}: ${outcome.kind}`;
  return (
    `${head}: ${formatCount(outcome.written)} written, ${formatCount(outcome.unchanged + outcome.skipped)} unchanged, ` +
    `${formatCount(outcome.quarantined + outcome.failed)} quarantined, ${formatCount(outcome.deleted)} deleted` +
    (outcome.echoes > 0 ? `, ${formatCount(outcome.echoes)} mirror echo(es)` : '') +
    (outcome.diverged > 0 ? `, ${formatCount(outcome.diverged)} DIVERGED (kept in the quarantine)` : '')
  );
}

/** The sync runner's running totals, under a title; with the number of feed ranges followed when known. */
export function describeSyncTotals(title: string, totals: SyncPageEvent['totals'], ranges?: number): string {
  return [
    `=== ${title} ===`,
    ...(ranges !== undefined ? [`  Feed ranges:  ${formatCount(ranges)}`] : []),
    `  Changes:      ${formatCount(totals.changes)}`,
    `  Written:      ${formatCount(totals.written)}`,
    `  Unchanged:    ${formatCount(totals.unchanged)}`,
    `  Quarantined:  ${formatCount(totals.quarantined + totals.failed)}`,
    `  Deleted:      ${formatCount(totals.deleted)}`,
    `  Mirror echoes: ${formatCount(totals.echoes)} (never written back)`,
    ...(totals.diverged > 0 ? [`  DIVERGED:     ${formatCount(totals.diverged)} kept in the quarantine: npm run migrate:quarantine`] : []),
    `  Cosmos reads: ${formatCount(Math.round(totals.requestUnits))} RU, ${formatCount(totals.throttled)} throttled (429)`,
  ].join('\n');
}
