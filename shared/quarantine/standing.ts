import type { EntryRow } from '../postgres/quarantine-store.js';

/**
 * Where a quarantine entry stands against what PostgreSQL serves for its document, which decides whether
 * PostgreSQL serves what Cosmos holds:
 * - `newer-than-row`: PostgreSQL's row of the document holds an older version than the one quarantined (a
 *   document replaced in Cosmos by a version no table can hold keeps its old row): it serves a version that
 *   no longer exists; and every `diverged` entry with a row, whatever the two versions' times: Cosmos holds a
 *   version written apart from PostgreSQL's, which PostgreSQL does not serve;
 * - `waiting-for-row`: no row holds the document, and it is not that no table can: a competitor for a row
 *   another document holds (`conflict`, `displaced`), or any other reason code (a diverged version, a code
 *   this version does not know);
 * - `no-table`: no row, and no table can hold the document as it is (`unmappable`, `refused`): the write path
 *   has done what it can, and only fixing it at the source changes that;
 * - `not-newer-than-row`: PostgreSQL's row holds this version of the document or a newer one.
 * The first two are differences (an open one fails verification and blocks a switch); the last two are listed.
 */
export type Standing = 'newer-than-row' | 'waiting-for-row' | 'no-table' | 'not-newer-than-row';

/** The reason codes of a document no table can hold as it is: the mapping refused it, or PostgreSQL refused its row. */
const mappingFailures: readonly string[] = ['unmappable', 'refused'];

/** Whether the entry is there because no table can hold the document as it is (see {@link Standing}). */
export function isMappingFailure(reasonCode: string): boolean {
  return mappingFailures.includes(reasonCode);
}

/** The standing of an entry, from its reason code and its document's row (`null`: no row). */
export function standingOf(entry: { reasonCode: string; row: EntryRow | null }): Standing {
  if (entry.row) return entry.reasonCode === 'diverged' || entry.row.order > 0 ? 'newer-than-row' : 'not-newer-than-row';
  return isMappingFailure(entry.reasonCode) ? 'no-table' : 'waiting-for-row';
}

/** Whether an open entry in this standing means PostgreSQL does not serve what Cosmos holds. */
export function isDifference(standing: Standing): boolean {
  return standing === 'newer-than-row' || standing === 'waiting-for-row';
}
