import { QuarantineEntryNotFoundError } from '../core/errors.js';
import { documentTypeNames, documentTypes } from '../domain/document-types.js';
import { rowToDocument } from '../domain/mapping.js';
import { redactSecretFields } from '../domain/secret-fields.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { readRow } from '../postgres/prisma-repository.js';
import { readCompetedRow, readQuarantineEntries } from '../postgres/quarantine-store.js';
import { keptValue } from './entry-address.js';
import { type ListedQuarantineEntry, withStanding } from './list-quarantine.js';

/** The PostgreSQL row an entry is measured against. */
export interface RowInQuestion {
  /**
   * `same-document`: the row PostgreSQL serves for this very document (an older version, when the entry is
   * newer); `competes-for`: the row the document needs and another document holds (`competesFor`).
   */
  relation: 'same-document' | 'competes-for';
  table: string;
  /** The row's key in its table (its pubkey or its id). */
  key: string;
  /** The row as a document (secret fields redacted); null when no row holds that key any more. */
  document: Record<string, unknown> | null;
  /** Whether the quarantined version is newer than that row's; null when there is no row. */
  entryIsNewer: boolean | null;
}

/** One entry in full: the document as kept (secret fields redacted), the reason, and the row it is measured against. */
export interface QuarantineEntryView {
  entry: ListedQuarantineEntry & {
    document: unknown;
    /** PostgreSQL could not hold the document as JSONB (a NUL, a lone surrogate, nesting too deep): it is kept as its JSON text. */
    keptAsText: boolean;
  };
  row: RowInQuestion | null;
}

const typeOfTable = new Map(documentTypeNames.map((type) => [documentTypes[type].table, type]));

/** The entry `key` as kept, why, and what row it competes for or would replace. Throws `QuarantineEntryNotFoundError`. */
export async function showQuarantineEntry(prisma: PrismaClient, key: string): Promise<QuarantineEntryView> {
  const [stored] = await readQuarantineEntries(prisma, { status: 'all', keys: [key] }, { limit: 1, include: 'document' });
  if (!stored) throw new QuarantineEntryNotFoundError(key);
  const { value, keptAsText } = keptValue(stored.document);
  const entry = { ...withStanding(stored), document: redactSecretFields(value), keptAsText };
  return { entry, row: await rowInQuestion(prisma, stored) };
}

async function rowInQuestion(
  prisma: PrismaClient,
  entry: Pick<ListedQuarantineEntry, 'key' | 'competesFor' | 'row' | 'documentId' | 'pubkey'>,
): Promise<RowInQuestion | null> {
  if (entry.competesFor !== null) {
    const separator = entry.competesFor.indexOf(':');
    const table = entry.competesFor.slice(0, separator);
    const key = entry.competesFor.slice(separator + 1);
    const held = await readCompetedRow(prisma, entry.key, entry.competesFor);
    return {
      relation: 'competes-for',
      table,
      key,
      document: held ? (redactSecretFields(rowToDocument(held.type, held.row)) as Record<string, unknown>) : null,
      entryIsNewer: held ? held.order > 0 : null,
    };
  }
  const type = entry.row ? typeOfTable.get(entry.row.table) : undefined;
  if (!entry.row || !type || entry.documentId === null || entry.pubkey === null) return null;
  const row = await readRow(prisma, type, entry.documentId, entry.pubkey);
  return {
    relation: 'same-document',
    table: entry.row.table,
    key: documentTypes[type].key === 'pubkey' ? entry.pubkey : entry.documentId,
    document: row ? (redactSecretFields(rowToDocument(type, row)) as Record<string, unknown>) : null,
    entryIsNewer: row ? entry.row.order > 0 : null,
  };
}
