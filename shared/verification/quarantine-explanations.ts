import type { PrismaClient } from '../postgres/prisma-client.js';
import { quarantineKey } from '../write-path/quarantine.js';
import type { StoredDocument } from './postgres-documents.js';
import { explainsVersion, isMappingFailure, quarantineOfDocuments } from './quarantine-entries.js';

/**
 * The quarantine step of the whole-container verification, kept apart from its page walk: which of the documents
 * a page could not match with a row (or, of no known type, could not have one) the quarantine accounts for.
 */

/** A Cosmos document the page did not match, with the row of its id when PostgreSQL has one. */
export interface UnmatchedDocument {
  document: Record<string, unknown>;
  row?: StoredDocument;
}

/** Why the quarantine holds a document: its reason, and whether it waits for a row another document holds. */
export interface QuarantineExplanation {
  reason: string;
  /** A competitor (`conflict`, `displaced`): valid, waiting for another's row, so not consistent while Cosmos has it. */
  competing: boolean;
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
    const entry = quarantine.get(quarantineKey(document));
    return explainsVersion(entry, document) ? { reason: entry.reason, competing: !isMappingFailure(entry) } : undefined;
  });
}
