import { type PointReader, positionedAfter } from '../cosmos/point-reads.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { applyDocuments } from '../write-path/apply-documents.js';
import type { QuarantineSource } from '../write-path/quarantine.js';
import { type DeleteOutcome, type DocumentRef, removeUnchanged } from './apply-deletes.js';

/** What settling did: documents written again from Cosmos, and rows removed because Cosmos no longer has them. */
export interface Settlement {
  /** Rows a delete could not be ordered against, read again from Cosmos. */
  ties: number;
  /** Quarantined competitors of removed rows, read again from Cosmos. */
  reconsidered: number;
  written: number;
  unchanged: number;
  quarantined: number;
  failed: number;
  deleted: number;
}

function unique(refs: readonly DocumentRef[]): DocumentRef[] {
  return [...new Map(refs.map((ref) => [JSON.stringify([ref.pubkey, ref.id]), ref])).values()];
}

/**
 * Finishes what `applyDeletes` could not decide alone, from Cosmos's CURRENT state (`read`: point reads):
 * - a tied row (a delete in the same second as the row's version, without change-feed positions to order
 *   them): the document present is applied as it is now (created again after the delete, so placed after
 *   the delete's position); absent, the row goes if it still holds the version that tied (`removeUnchanged`);
 * - a competitor quarantined for a row that is now free (`conflict`, `displaced`): read again and applied (no
 *   earlier than the version the quarantine holds), so it takes the row, and its entry goes (or it is
 *   quarantined again, with the reason that holds now).
 * Idempotent: a retry reads again and converges to the same state. Throws if Cosmos or PostgreSQL fails.
 */
export async function settleAfterDeletes(
  prisma: PrismaClient,
  read: PointReader,
  outcome: Pick<DeleteOutcome, 'ties' | 'reconsider'>,
  source: QuarantineSource,
): Promise<Settlement> {
  const settlement: Settlement = {
    ties: outcome.ties.length,
    reconsidered: 0,
    written: 0,
    unchanged: 0,
    quarantined: 0,
    failed: 0,
    deleted: 0,
  };
  if (outcome.ties.length === 0 && outcome.reconsider.length === 0) return settlement;
  const tied = await read(outcome.ties.map((row) => ({ ...row, partitionKey: row.pubkey })));
  const removed = await removeUnchanged(
    prisma,
    tied.flatMap(({ entry, document }) => (document ? [] : [entry])),
  );
  settlement.deleted = removed.deleted;
  const competitors = unique([...outcome.reconsider, ...removed.reconsider]);
  settlement.reconsidered = competitors.length;
  const reread = await read(competitors.map((ref) => ({ ...ref, partitionKey: ref.pubkey })));
  const documents = [
    ...tied.flatMap(({ entry, document }) => (document ? [positionedAfter(document, entry.deleteLsn)] : [])),
    ...reread.flatMap(({ entry, document }) => (document ? [positionedAfter(document, entry.lsn)] : [])),
  ];
  if (documents.length === 0) return settlement;
  const applied = await applyDocuments(prisma, documents, { source });
  settlement.written = applied.written;
  settlement.unchanged = applied.unchanged + applied.skipped;
  settlement.quarantined = applied.quarantined;
  settlement.failed = applied.failed;
  return settlement;
}
