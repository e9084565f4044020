import type { DocumentType } from '../domain/document-types.js';
import { type RowOutcome, type UpsertOptions, upsertRows } from '../postgres/bulk-upsert.js';
import type { CopyClient } from '../postgres/sql-client.js';
import type { Candidate } from './plan-documents.js';

/** A row the write settled, and how. */
export interface Settled {
  candidate: Candidate;
  outcome: Exclude<RowOutcome, { outcome: 'retry' }>;
}

/** A row PostgreSQL refused for its data, with the database's error. */
export interface Refused {
  candidate: Candidate;
  error: unknown;
}

/** What one pass over some rows did: each row is settled, refused, or left to apply again. */
export interface PassResult {
  settled: Settled[];
  refused: Refused[];
  /** Rows a concurrent insert beat the statement to: their outcome is unknown until they are applied again. */
  retry: Candidate[];
}

/** One pass of the set-based statement over some rows of one type: plain, or with refused rows cut out. */
export type WritePass = (type: DocumentType, rows: Candidate[]) => Promise<PassResult>;

/** Re-applications of rows a concurrent writer inserted under us, before giving the whole call another try. */
const raceRounds = 3;

/** Rows that kept losing races with concurrent writers: the whole call is retried. */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

/** Sorts outcomes into settled rows and rows to apply again. */
export function sortOutcomes(rows: readonly Candidate[], outcomes: readonly RowOutcome[]): PassResult {
  const result: PassResult = { settled: [], refused: [], retry: [] };
  outcomes.forEach((outcome, i) => {
    const candidate = rows[i] as Candidate;
    if (outcome.outcome === 'retry') result.retry.push(candidate);
    else result.settled.push({ candidate, outcome });
  });
  return result;
}

/** The plain pass: the whole chunk in one statement (and its row lock), as the hot path runs it. */
export function upsertPass(db: CopyClient, options: UpsertOptions): WritePass {
  return async (type, rows) =>
    sortOutcomes(
      rows,
      await upsertRows(
        db,
        type,
        rows.map((candidate) => candidate.row),
        options,
      ),
    );
}

/**
 * Writes one chunk of one type through `pass`, re-applying the rows a concurrent insert beat it to
 * (the statement's snapshot could not see that row, so its outcome is unknown) until every row is
 * settled or refused; after {@link raceRounds} passes it gives up with a {@link ConcurrentWriteError}.
 */
export async function writeChunk(type: DocumentType, chunk: Candidate[], pass: WritePass): Promise<Omit<PassResult, 'retry'>> {
  const settled: Settled[] = [];
  const refused: Refused[] = [];
  let pending = chunk;
  for (let round = 0; pending.length > 0; round += 1) {
    if (round === raceRounds) throw new ConcurrentWriteError(`${type}: rows kept changing under concurrent writers`);
    const result = await pass(type, pending);
    settled.push(...result.settled);
    refused.push(...result.refused);
    pending = result.retry;
  }
  return { settled, refused };
}
