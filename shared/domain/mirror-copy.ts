import { documentHash } from './document-hash.js';
import { isMirrorMarkerValue, mirrorMarkerField } from './mirror-marker.js';

/** `document` as the mirror writes it to Cosmos: with its mark, the hash of its content. */
export function withMirrorMark<T extends Record<string, unknown>>(document: T): T {
  return { ...document, [mirrorMarkerField]: documentHash(document) };
}

/**
 * The content hash of `document` when it is a copy the mirror wrote and nobody has changed since (its mark
 * equals the hash of what it holds); undefined for any other document. Proof that a change-feed item is an
 * echo of PostgreSQL's own write, never a guess.
 */
export function mirrorCopyHash(document: Record<string, unknown>): string | undefined {
  const mark = document[mirrorMarkerField];
  if (!isMirrorMarkerValue(mark)) return undefined;
  return documentHash(document) === mark ? mark : undefined;
}

/** The mark a document carries, whether or not its content still matches it (the version a writer started from). */
export function mirrorMarkOf(document: Record<string, unknown>): string | undefined {
  const mark = document[mirrorMarkerField];
  return isMirrorMarkerValue(mark) ? mark : undefined;
}
