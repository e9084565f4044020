import { documentTypeNames } from '../domain/document-types.js';
import { formatCount, typeLabels } from '../stats/type-labels.js';
import { REDACTED } from './document-diff.js';
import type { Finding, FullVerificationReport } from './verify-all.js';
import type { DocumentDifference, UserVerificationReport } from './verify-user.js';

const longestValue = 80;

/**
 * A user's verification for people: the verdict, per type how many documents each side has, then one
 * line per difference (field values as JSON, long ones shortened, secrets already redacted).
 */
export function formatVerificationReport(report: UserVerificationReport): string {
  const problems = report.differences.length - report.quarantined + report.otherTypes.missing.length;
  const verdict = report.consistent ? 'CONSISTENT' : `${formatCount(problems)} DIFFERENCE${problems === 1 ? '' : 'S'}`;
  const lines = [
    `=== Verification: ${report.pubkey} ===`,
    `Result: ${verdict}${report.quarantined > 0 ? ` (${formatCount(report.quarantined)} quarantined)` : ''}`,
    'Documents (Cosmos / PostgreSQL):',
    ...documentTypeNames.map((type) => {
      const { cosmos, postgres } = report.checked[type];
      return `  ${typeLabels[type]}: ${formatCount(cosmos)} / ${formatCount(postgres)}`;
    }),
  ];
  const { otherTypes } = report;
  if (otherTypes.cosmos > 0) {
    lines.push(`  Of no known type: ${formatCount(otherTypes.cosmos)} in Cosmos, ${formatCount(otherTypes.quarantined)} in the quarantine`);
  }
  if (report.differences.length > 0 || otherTypes.missing.length > 0) {
    lines.push(
      '',
      'Differences:',
      ...report.differences.map((difference) => `  ${describeDifference(difference)}`),
      ...otherTypes.missing.map((id) => `  document ${id} of no known type: neither migrated nor in the quarantine`),
    );
  }
  return lines.join('\n');
}

function describeDifference(difference: DocumentDifference): string {
  const subject = `${typeLabels[difference.type]} ${difference.id}`;
  switch (difference.kind) {
    case 'missing-in-postgres':
      return `${subject}: missing in PostgreSQL`;
    case 'missing-in-cosmos':
      return `${subject}: missing in Cosmos`;
    case 'quarantined':
      return `${subject}: quarantined (${difference.reason ?? 'no reason recorded'})`;
    case 'quarantined-newer':
      return (
        `${subject}: PostgreSQL serves an older version; Cosmos's is in the quarantine (${difference.reason ?? 'no reason recorded'}); ` +
        `see npm run migrate:quarantine -- show ${difference.key ?? '<key>'}; fix it at the source and retry, or resolve it`
      );
    case 'competing':
      return difference.reasonCode === 'conflict' || difference.reasonCode === 'displaced'
        ? `${subject}: only in the quarantine, competing for a row another document holds ` +
            `(${difference.reason ?? 'no reason recorded'}); resolve the two at the source, or run the sync to settle it`
        : `${subject}: only in the quarantine, waiting for a row (${difference.reasonCode ?? 'no reason code'}: ` +
            `${difference.reason ?? 'no reason recorded'})`;
    case 'different':
      return (
        `${subject}: ${difference.path ?? '(document)'}: Cosmos ${showValue(difference.cosmos)}, PostgreSQL ` +
        showValue(difference.postgres)
      );
  }
}

function showValue(value: unknown): string {
  if (value === undefined) return '(absent)';
  if (value === REDACTED) return REDACTED;
  const text = JSON.stringify(value);
  return text.length > longestValue ? `${text.slice(0, longestValue - 3)}...` : text;
}

/**
 * A whole-container verification for people: the verdict, a line per type, then each finding with the
 * ids it listed, the repair's outcome and the notes.
 */
export function formatFullVerificationReport(report: FullVerificationReport): string {
  const lines = [
    '=== Verification: all documents ===',
    `Result: ${report.consistent ? 'CONSISTENT' : 'DIFFERENCES FOUND'}`,
    ...documentTypeNames.map((type) => {
      const tally = report.types[type];
      return (
        `  ${typeLabels[type]}: Cosmos ${formatCount(tally.cosmos)}, PostgreSQL ${formatCount(tally.postgres)}, ` +
        `compared ${formatCount(tally.compared)}, missing in PostgreSQL ${formatCount(tally.missingInPostgres)}, ` +
        `missing in Cosmos ${formatCount(tally.missingInCosmos)}, different ${formatCount(tally.different)}, ` +
        `quarantined ${formatCount(tally.quarantined)}${quarantinedDetail(tally)}`
      );
    }),
    `  Of no known type: Cosmos ${formatCount(report.otherTypes.cosmos)}, in the quarantine ${formatCount(report.otherTypes.quarantined)}`,
    `  Cosmos reads: ${formatCount(report.reads.documents)} documents from ${formatCount(report.reads.ranges)} feed ranges, ` +
      `${formatCount(Math.round(report.reads.requestUnits))} RU, ${formatCount(report.reads.throttled)} throttled (429)`,
    ...describeFinding('Missing in PostgreSQL', report.missingInPostgres),
    ...describeFinding('Missing in Cosmos', report.missingInCosmos),
    ...describeFinding('Different (run migrate:verify <pubkey> for the values)', report.different),
    ...describeFinding('Quarantined', report.quarantined),
    ...describeFinding('Waiting in the quarantine for a row (not consistent)', report.competing),
    ...describeFinding('Quarantined, newer than the row PostgreSQL serves (not consistent)', report.newerThanRow),
    ...describeOtherMissing(report.otherTypes.missing),
  ];
  if (report.repair) {
    const { attempted, written, unchanged, quarantined, failed } = report.repair;
    lines.push(
      '',
      `Repair: ${formatCount(attempted)} migrated again: ${formatCount(written)} written, ${formatCount(unchanged)} unchanged, ` +
        `${formatCount(quarantined)} quarantined, ${formatCount(failed)} failed. Verify again to confirm.`,
    );
  }
  for (const note of report.notes) lines.push('', `Note: ${note}`);
  return lines.join('\n');
}

function quarantinedDetail(tally: FullVerificationReport['types'][keyof FullVerificationReport['types']]): string {
  const parts = [
    ...(tally.competing > 0 ? [`${formatCount(tally.competing)} waiting for a row`] : []),
    ...(tally.newerThanRow > 0 ? [`${formatCount(tally.newerThanRow)} newer than their row`] : []),
  ];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function describeOtherMissing(missing: FullVerificationReport['otherTypes']['missing']): string[] {
  if (missing.count === 0) return [];
  const lines = ['', `Of no known type, neither migrated nor in the quarantine: ${formatCount(missing.count)}`];
  for (const document of missing.listed) lines.push(`  ${document.id} [${document.pubkey}]`);
  const unlisted = missing.count - missing.listed.length;
  if (unlisted > 0) lines.push(`  ... and ${formatCount(unlisted)} more`);
  return lines;
}

function describeFinding(title: string, finding: Finding): string[] {
  if (finding.count === 0) return [];
  const lines = ['', `${title}: ${formatCount(finding.count)}`];
  for (const document of finding.listed) {
    const detail = document.paths ? ` (${document.paths.join(', ')})` : document.reason ? ` (${document.reason})` : '';
    lines.push(`  ${typeLabels[document.type]} ${document.id} [${document.pubkey}]${detail}`);
  }
  const unlisted = finding.count - finding.listed.length;
  if (unlisted > 0) lines.push(`  ... and ${formatCount(unlisted)} more`);
  return lines;
}
