import { type DocumentType, documentTypeNames, documentTypes } from '../domain/document-types.js';
import { documentToRow, type Row } from '../domain/mapping.js';
import { compareCodePoints, compareVersions, rowKey, supersedes } from '../postgres/version-order.js';

/**
 * What a call's documents become before any I/O: each document mapped to its row (or found unmappable),
 * only the newest copy of each document kept, and each type's rows scheduled into rounds that one
 * set-based statement per chunk can write. Pure: no database, no clock.
 */

/** A document that maps, with its row and its position in the call. */
export interface Candidate {
  index: number;
  document: unknown;
  row: Row;
}

/** A document that does not map, and why (its type, when it names a known one). */
export interface Unmappable {
  index: number;
  document: unknown;
  reason: string;
  type?: DocumentType;
}

/** One type's rows, in the rounds they are written in (see {@link scheduleRounds}). */
export interface TypePlan {
  type: DocumentType;
  rounds: Candidate[][];
}

export interface Plan {
  /** Types with rows to write, in the fixed order of `documentTypeNames`. */
  types: TypePlan[];
  unmappable: Unmappable[];
  /** Older copies of a document that a newer copy in the same call supersedes (counted `unchanged`). */
  superseded: number;
}

/**
 * Maps `documents` and plans their writes. Tables come in one fixed order, so that concurrent calls lock
 * rows in the same order (no deadlocks between them). Every document is in exactly one place: a round,
 * `unmappable`, or counted in `superseded`.
 */
export function planDocuments(documents: readonly unknown[]): Plan {
  const candidates = new Map<DocumentType, Candidate[]>();
  const unmappable: Unmappable[] = [];
  documents.forEach((document, index) => {
    const mapped = documentToRow(document);
    if (!mapped.ok) {
      unmappable.push({ index, document, reason: mapped.reason, type: mapped.type });
      return;
    }
    const list = candidates.get(mapped.type) ?? [];
    list.push({ index, document, row: mapped.row });
    candidates.set(mapped.type, list);
  });
  const plan: Plan = { types: [], unmappable, superseded: 0 };
  for (const type of documentTypeNames) {
    const list = candidates.get(type);
    if (!list) continue;
    // Almost always: no two documents compete for a row, so there is nothing to keep or put off, and one round.
    if (competesForNoRow(type, list)) {
      plan.types.push({ type, rounds: [sortByKey(type, list)] });
      continue;
    }
    const newest = keepNewestCopies(type, list);
    plan.superseded += list.length - newest.length;
    plan.types.push({ type, rounds: scheduleRounds(type, newest) });
  }
  return plan;
}

/**
 * Whether no two of `candidates` share a key (nor, in a pubkey-keyed table, an id): then no document comes
 * twice (a copy shares its key), {@link keepNewestCopies} keeps them all and {@link scheduleRounds} makes one
 * round of them. Asked first, as it costs one set of keys where those two build maps and strings.
 */
function competesForNoRow(type: DocumentType, candidates: readonly Candidate[]): boolean {
  const byPubkey = documentTypes[type].key === 'pubkey';
  const keys = new Set<string>();
  const ids = byPubkey ? new Set<string>() : undefined;
  for (const { row } of candidates) {
    keys.add(rowKey(type, row));
    ids?.add(row.id);
  }
  return keys.size === candidates.length && (ids === undefined || ids.size === candidates.length);
}

/**
 * The newest copy of each document (`pubkey` and `id`) among `candidates` of one type, in the order of
 * the call. Of two copies with equal versions the later is kept, as applied one after another the last
 * one stays; unless only the earlier came with a change-feed position (`supersedes`, rule 4).
 */
export function keepNewestCopies(type: DocumentType, candidates: readonly Candidate[]): Candidate[] {
  const newest = new Map<string, Candidate>();
  for (const candidate of candidates) {
    const identity = `${candidate.row.pubkey}/${candidate.row.id}`;
    const current = newest.get(identity);
    if (!current || supersedes(type, candidate.row, current.row)) newest.set(identity, candidate);
  }
  // Almost always every document comes once: then the candidates are the answer, in their order already.
  if (newest.size === candidates.length) return [...candidates];
  return [...newest.values()].sort((a, b) => a.index - b.index);
}

/**
 * Orders one type's rows (one copy per document, see {@link keepNewestCopies}) into rounds that, written
 * one after another, have the effect of applying the documents one by one. Documents competing for one
 * row go to successive rounds, and the database's guard decides each later one exactly as it would have
 * one by one:
 * - two documents of one pubkey in a pubkey-keyed table: highest precedence first (see
 *   `version-order.ts`), so the later ones meet the winner and are quarantined, not displaced;
 * - one id claimed by several pubkeys: first claimant (in call order) first.
 * Within a round no two rows share a key (nor, in a pubkey-keyed table, an id), which one statement
 * requires. Each round is sorted by key, so that concurrent writers lock rows in the same order. Almost
 * always there is a single round.
 */
export function scheduleRounds(type: DocumentType, candidates: readonly Candidate[]): Candidate[][] {
  const byPubkey = documentTypes[type].key === 'pubkey';
  const byKey = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    const key = rowKey(type, candidate.row);
    const competitors = byKey.get(key);
    if (competitors) competitors.push(candidate);
    else byKey.set(key, [candidate]);
  }
  const rounds: Candidate[][] = [];
  const idsInRound: Array<Set<string>> = [];
  for (const competitors of byKey.values()) {
    if (byPubkey) competitors.sort((a, b) => compareVersions(type, b.row, a.row));
    let round = 0;
    for (const candidate of competitors) {
      while (byPubkey && idsInRound[round]?.has(candidate.row.id)) round += 1;
      (rounds[round] ??= []).push(candidate);
      if (byPubkey) (idsInRound[round] ??= new Set()).add(candidate.row.id);
      round += 1;
    }
  }
  return rounds.map((round) => sortByKey(type, round));
}

/** Anything from U+D800 up: where UTF-16 order and code point order can differ (see `compareCodePoints`). */
const highUnits = /[\uD800-\uFFFF]/;

/**
 * `round` sorted by key in code point order. Keys are almost always ASCII (hex pubkeys, ids), and where no key has
 * a unit from U+D800 up, the engine's own string comparison gives that very order, several times faster.
 */
function sortByKey(type: DocumentType, round: Candidate[]): Candidate[] {
  const keyed = round.map((candidate) => ({ key: rowKey(type, candidate.row), candidate }));
  const compare = keyed.some(({ key }) => highUnits.test(key)) ? compareCodePoints : (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return keyed.sort((a, b) => compare(a.key, b.key)).map(({ candidate }) => candidate);
}
