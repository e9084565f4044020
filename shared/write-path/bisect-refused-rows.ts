import type { DocumentType } from '../domain/document-types.js';
import type { UpsertOptions } from '../postgres/bulk-upsert.js';
import { isRowDataError } from '../postgres/postgres-errors.js';
import type { CopyClient } from '../postgres/sql-client.js';
import type { Candidate } from './plan-documents.js';
import { type PassResult, upsertPass, type WritePass } from './write-chunk.js';

/**
 * The slow pass, taken only after a call failed on a row's data (`isRowDataError`: a value out of range,
 * a constraint): each statement runs under a savepoint, and a statement PostgreSQL refuses is rolled back
 * to it and its rows halved, until the rows it refuses are isolated one by one; every other row is
 * written. Each refused row costs about 2·log2(chunk size) more statements, each with its savepoint.
 */
export function bisectingPass(tx: CopyClient, options: UpsertOptions): WritePass {
  const upsert = upsertPass(tx, options);
  const bisect = async (type: DocumentType, rows: Candidate[]): Promise<PassResult> => {
    await tx.$executeRawUnsafe('SAVEPOINT apply_chunk');
    try {
      const result = await upsert(type, rows);
      await tx.$executeRawUnsafe('RELEASE SAVEPOINT apply_chunk');
      return result;
    } catch (error) {
      if (!isRowDataError(error)) throw error;
      await tx.$executeRawUnsafe('ROLLBACK TO SAVEPOINT apply_chunk');
      if (rows.length === 1) return { settled: [], refused: [{ candidate: rows[0] as Candidate, error }], retry: [] };
      const half = Math.ceil(rows.length / 2);
      const first = await bisect(type, rows.slice(0, half));
      const second = await bisect(type, rows.slice(half));
      return {
        settled: [...first.settled, ...second.settled],
        refused: [...first.refused, ...second.refused],
        retry: [...first.retry, ...second.retry],
      };
    }
  };
  return bisect;
}
