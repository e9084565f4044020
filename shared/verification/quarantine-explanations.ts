import type { PrismaClient } from '../postgres/prisma-client.js';
import { quarantineKey } from '../write-path/quarantine.js';
import type { StoredDocument } from './postgres-documents.js';
import { quarantineOfDocuments, quarantineVerdict, reportedReason } from './quarantine-entries.js';

/**
 * The quarantine step of the whole-container verification, kept apart from its page walk: which of the documents
 * a page could not match with a row (or, of no known type, could not have one) the quarantine accounts for.
 */

/** A Cosmos document the page did not match, with the row of its id when PostgreSQL has one. */
export interface UnmatchedDocument {
  document: Record<string, unknown>;
  row?: StoredDocument;
}

/** Why the quarantine holds a document: its reason, and whether that is still a difference. */
export interface QuarantineExplanation {
  reason: string;
  /**
   * An open entry PostgreSQL does not serve: it waits for a row (`waiting-for-row`: a competitor, a diverged
   * version), or PostgreSQL serves an older version of it (`newer-than-row`). Absent for a document no table can
   * hold, or one an operator resolved: listed, not counted against consistency (see `quarantineVerdict`).
   */
  difference?: 'newer-than-row' | 'waiting-for-row';
}

/**
 * For each document, in order, what the quarantine says of that version of it, or undefined when it does not
 * account for it (no entry, or an entry of an older version). One query for the page, only for the documents given.
 */
export async function explainByQuarantine(
  prisma: PrismaClient,
  unmatched: readonly UnmatchedDocument[],
): Promise<Array<QuarantineExplanation | undefined>> {
  const quarantine = await quarantineOfDocuments(
    prisma,
    unmatched.map(({ document }) => document),
  );
  return unmatched.map(({ document }) => {
    const verdict = quarantineVerdict(quarantine.get(quarantineKey(document)), document);
    if (verdict.kind === 'none') return undefined;
    return { reason: reportedReason(verdict.entry), ...(verdict.kind === 'difference' ? { difference: verdict.standing } : {}) };
  });
}
