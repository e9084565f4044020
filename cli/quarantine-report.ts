import type {
  ListedQuarantineEntry,
  QuarantineEntryView,
  QuarantineListing,
  QuarantineResolution,
  QuarantineRetry,
  RetriedEntry,
  Standing,
} from '../shared/quarantine/index.js';
import { formatCount } from '../shared/stats/type-labels.js';

/** The quarantine for people: lists, one entry, and what a retry or a resolve did. */

const standingText: Record<Standing, string> = {
  'newer-than-row': 'NEWER than the row PostgreSQL serves for it (PostgreSQL serves an older version)',
  'waiting-for-row': 'in no table, waiting for a row',
  'no-table': 'in no table: no table can hold it as it is',
  'not-newer-than-row': 'its row in PostgreSQL holds this version or a newer one',
};

/** The longest reason a list line shows; `show` gives it whole. */
const listedReasonLength = 160;

function shorten(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 3)}...` : text;
}

function statusText(
  entry: Pick<ListedQuarantineEntry, 'status' | 'resolvedBy' | 'resolvedAt' | 'resolution' | 'closedAt' | 'closedBy'>,
): string {
  if (entry.status === 'resolved') {
    return `resolved by ${entry.resolvedBy ?? '?'} at ${entry.resolvedAt?.toISOString() ?? '?'}: ${JSON.stringify(entry.resolution ?? '')}`;
  }
  if (entry.status === 'closed') return `closed at ${entry.closedAt?.toISOString() ?? '?'} by ${entry.closedBy ?? '?'} (deleted in Cosmos)`;
  return 'open';
}

function reasonCounts(byReason: Record<string, number>): string {
  const parts = Object.entries(byReason).map(([reason, count]) => `${reason} ${formatCount(count)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** A page of the quarantine: the counts, then two lines per entry, then how to get the next page. */
export function describeListing(listing: QuarantineListing, heading: string, nextCommand: (after: string) => string): string {
  const lines = [`=== Quarantine: ${heading} ===`, `Selected: ${formatCount(listing.total)}${reasonCounts(listing.byReason)}`];
  for (const entry of listing.entries) {
    const subject = [entry.type ?? '(no type)', entry.reasonCode, entry.status === 'open' ? undefined : statusText(entry)]
      .filter((part) => part !== undefined)
      .join(', ');
    lines.push(
      `  ${entry.key}`,
      `    ${subject}; quarantined ${entry.quarantinedAt.toISOString()}; ${standingText[entry.standing]}` +
        `${entry.competesFor ? ` (${entry.competesFor})` : ''}: ${shorten(entry.reason, listedReasonLength)}`,
    );
  }
  if (listing.entries.length === 0) lines.push('  (none)');
  if (listing.next !== null) lines.push('', `More: ${nextCommand(listing.next)}`);
  return lines.join('\n');
}

function indentedJson(value: unknown): string[] {
  return JSON.stringify(value, null, 2)
    .split('\n')
    .map((line) => `  ${line}`);
}

/** One entry in full: its status, reason, standing, the row it is measured against, and the document as kept. */
export function describeEntry(view: QuarantineEntryView): string {
  const { entry, row } = view;
  const lines = [
    `=== Quarantine entry ${entry.key} ===`,
    `Status:      ${statusText(entry)}`,
    `Document:    ${entry.type ?? '(no type)'} ${entry.documentId ?? '(no usable id)'}, user ${entry.pubkey ?? '(no usable pubkey)'}, _ts ${entry.cosmosTs}`,
    `Reason:      ${entry.reasonCode}: ${entry.reason}`,
    `Recorded:    by ${entry.source}, quarantined ${entry.quarantinedAt.toISOString()}`,
    `Standing:    ${standingText[entry.standing]}`,
  ];
  if (row) {
    const relation = row.relation === 'same-document' ? 'its own row' : 'the row it competes for (another document holds it)';
    const newer = row.entryIsNewer === null ? '' : `; the quarantined version is ${row.entryIsNewer ? 'NEWER than' : 'not newer than'} it`;
    lines.push(`Row:         ${row.table}:${row.key}, ${relation}${newer}`);
    lines.push(
      ...(row.document ? ['Row as PostgreSQL serves it (secrets redacted):', ...indentedJson(row.document)] : ['  (no row holds it now)']),
    );
  } else {
    lines.push('Row:         none: PostgreSQL holds no row of this document');
  }
  lines.push(`Document as kept${entry.keptAsText ? ' (as its JSON text: PostgreSQL cannot hold it as JSONB)' : ''} (secrets redacted):`);
  lines.push(...indentedJson(entry.document));
  return lines.join('\n');
}

const outcomeText: Record<RetriedEntry['outcome'], string> = {
  landed: 'landed in its table (the entry left the quarantine)',
  'still-quarantined': 'still quarantined',
  closed: 'gone from Cosmos: entry closed',
  unchanged: 'unchanged (PostgreSQL holds that version or a newer one, or the entry changed meanwhile)',
  unaddressable: 'not retried: no point read can name its document',
  'not-found': 'no such entry',
};

/** What a retry did: the counts, then one line per entry. */
export function describeRetry(retry: QuarantineRetry): string {
  const { counts } = retry;
  const lines = [
    '=== Quarantine retry ===',
    `Retried ${formatCount(retry.selected)}: ${formatCount(counts.landed)} landed, ${formatCount(counts['still-quarantined'])} still ` +
      `quarantined, ${formatCount(counts.closed)} closed (gone from Cosmos), ${formatCount(counts.unchanged)} unchanged, ` +
      `${formatCount(counts.unaddressable)} not addressable, ${formatCount(counts['not-found'])} not found; ` +
      `Cosmos reads: ${formatCount(Math.round(retry.requestUnits))} RU, ${formatCount(retry.throttled)} throttled (429)`,
    ...retry.entries.map(
      (entry) =>
        `  ${entry.key}: ${outcomeText[entry.outcome]}${entry.reason ? ` (${entry.reasonCode}: ${shorten(entry.reason, listedReasonLength)})` : ''}`,
    ),
  ];
  const unlisted = retry.selected - retry.entries.length;
  if (unlisted > 0) lines.push(`  ... and ${formatCount(unlisted)} more`);
  return lines.join('\n');
}

/** What a resolve did, key by key. */
export function describeResolution(resolution: QuarantineResolution, by: string): string {
  return [
    `Resolved by ${by}: ${formatCount(resolution.resolved.length)}`,
    ...resolution.resolved.map((key) => `  ${key}`),
    ...(resolution.notOpen.length > 0
      ? ['Not open, left as they were:', ...resolution.notOpen.map(({ key, status }) => `  ${key}: ${status}`)]
      : []),
    ...(resolution.notFound.length > 0 ? ['No such entry:', ...resolution.notFound.map((key) => `  ${key}`)] : []),
    ...(resolution.mirrored > 0
      ? [
          `${formatCount(resolution.mirrored)} diverged document(s) keep PostgreSQL's version: the mirror copies it over Cosmos's ` +
            '(npm run migrate:pending-sync -- --now does it at once)',
        ]
      : []),
  ].join('\n');
}
