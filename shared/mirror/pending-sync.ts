import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { createCosmosRepositories } from '../cosmos/cosmos-repository.js';
import { type DocumentsByType, type DocumentType, documentTypeOf } from '../domain/document-types.js';
import { rowToDocument } from '../domain/mapping.js';
import { mirrorCopyHash } from '../domain/mirror-copy.js';
import type { DocumentRepository, Repositories } from '../domain/repository-contract.js';
import { mirrorTarget } from '../postgres/pending-sync-backlog.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { readRow } from '../postgres/prisma-repository.js';

export { mirrorTarget, type PendingSyncBacklog, pendingSyncBacklog } from '../postgres/pending-sync-backlog.js';

/**
 * Dual mode with PostgreSQL primary: documents whose Cosmos copy may be stale because a mirror write
 * failed. Entries name a document, not a change: a retry copies the primary's state as it is now
 * (or deletes the copy if the document is gone), so retries are idempotent and their order does not
 * matter. Rows with other targets belong to the change-feed sync and are left alone here.
 *
 * The backoff is the entry's: its first failed write makes it due after one step, and each failed RETRY of it
 * doubles the wait. A write that fails while the entry waits joins it (`writes`) and changes nothing of its
 * schedule, so a burst of failing writes to one document (twenty updates during an outage) leaves one entry due
 * one step after the first, not one pushed out by every write.
 */

const firstDelayMs = 10_000;
const maxDelayMs = 15 * 60_000;

export interface PendingDocument {
  /** The canonical document type (`account-settings` also for `user-settings` documents). */
  type: string;
  pubkey: string;
  id: string;
}

/** When to try again after `attempts` failed tries: 10 s, doubling, at most 15 minutes. */
export function nextAttemptAt(attempts: number, now: Date): Date {
  const delay = Math.min(firstDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 20), maxDelayMs);
  return new Date(now.getTime() + delay);
}

/**
 * Records that a mirror write of `document` failed: a new entry, due one backoff step from `now`, or a write
 * joining the entry already waiting (its schedule and attempts unchanged; `writes` counts it). One statement,
 * so concurrent failures of one document meet on its row. `error` must already be safe to store (see
 * `safeErrorMessage`). Returns when the entry is due.
 */
export async function recordPendingSync(prisma: PrismaClient, document: PendingDocument, error: string, now = new Date()): Promise<Date> {
  const [row] = await prisma.$queryRaw<Array<{ nextAttempt: Date }>>`
    INSERT INTO "pending_sync" AS p
      ("target", "documentType", "pubkey", "documentId", "attempts", "writes", "lastError", "nextAttempt", "createdAt")
    VALUES (${mirrorTarget}, ${document.type}, ${document.pubkey}, ${document.id}, 1, 1, ${error}, ${nextAttemptAt(1, now)}, ${now})
    ON CONFLICT ("target", "pubkey", "documentId") DO UPDATE SET
      "documentType" = EXCLUDED."documentType", "writes" = p."writes" + 1, "lastError" = EXCLUDED."lastError"
    RETURNING "nextAttempt"`;
  if (!row) throw new Error('recording a pending mirror write returned no row');
  return row.nextAttempt;
}

/** A retry of the entry (tried `attempts` times so far) failed: one more attempt, and the next after the backoff. */
async function rescheduleAfterFailure(
  prisma: PrismaClient,
  entry: { pubkey: string; documentId: string; attempts: number },
  error: string,
  now: Date,
): Promise<void> {
  const attempts = entry.attempts + 1;
  await prisma.pendingSync.updateMany({
    where: { target: mirrorTarget, pubkey: entry.pubkey, documentId: entry.documentId, attempts: entry.attempts },
    data: { attempts, lastError: error, nextAttempt: nextAttemptAt(attempts, now) },
  });
}

/** Where a walk of every entry stands: after this document (`pubkey`, then `documentId` order). */
export interface PendingKey {
  pubkey: string;
  documentId: string;
}

export interface RetryPendingSyncOptions {
  /** Most entries to handle in this call (default 100). */
  limit?: number;
  /** The clock: entries whose `nextAttempt` is at or before it are due, and failures are rescheduled from it (default: now). */
  now?: Date;
  /**
   * Every entry, due or not (`migrate:pending-sync -- --now`), in document order after `after`: an operator
   * pushing the backlog through once Cosmos answers again, instead of waiting out each entry's backoff.
   */
  regardlessOfSchedule?: boolean;
  after?: PendingKey;
}

export interface PendingSyncOutcome extends PendingDocument {
  /** `superseded`: Cosmos already holds a newer write (e.g. made after a switch back to Cosmos), left as it is. */
  outcome: 'written' | 'deleted' | 'superseded' | 'failed';
  error?: string;
}

/** The entries a call takes: those due at `now` (earliest first), or with `regardlessOfSchedule` every one after `after`. */
function entriesToTry(services: AppContext, options: RetryPendingSyncOptions, now: Date) {
  const take = options.limit ?? 100;
  if (!options.regardlessOfSchedule) {
    return services.prisma.pendingSync.findMany({
      where: { target: mirrorTarget, nextAttempt: { lte: now } },
      orderBy: { nextAttempt: 'asc' },
      take,
    });
  }
  const { after } = options;
  return services.prisma.pendingSync.findMany({
    where: {
      target: mirrorTarget,
      ...(after ? { OR: [{ pubkey: { gt: after.pubkey } }, { pubkey: after.pubkey, documentId: { gt: after.documentId } }] } : {}),
    },
    orderBy: [{ pubkey: 'asc' }, { documentId: 'asc' }],
    take,
  });
}

/**
 * Copies each due document's current PostgreSQL state to Cosmos (or deletes the Cosmos copy if the
 * document is gone), unless the Cosmos copy was written after that state: after a rollback to Cosmos
 * as primary, the service writes to Cosmos directly, and a late retry must not undo those writes.
 * PostgreSQL's version is the row's `cosmosTs` (the second of its last write there); a deleted row's is
 * the first failure's time. A success removes the entry, unless a write joined it meanwhile (that write's
 * state may not be the one copied); a failure counts one more attempt and reschedules it with backoff.
 * Returns one outcome per entry handled; throws only if PostgreSQL itself cannot be read or Cosmos is not
 * configured.
 */
export async function retryPendingSync(services: AppContext, options: RetryPendingSyncOptions = {}): Promise<PendingSyncOutcome[]> {
  const now = options.now ?? new Date();
  const entries = await entriesToTry(services, options, now);
  if (entries.length === 0) return [];

  const mirror = createCosmosRepositories(services.cosmos, { markAsMirrorCopies: true });
  const secrets = secretsOf(services.config);
  const outcomes: PendingSyncOutcome[] = [];
  for (const entry of entries) {
    const document = { type: entry.documentType, pubkey: entry.pubkey, id: entry.documentId };
    try {
      const outcome = await copyToCosmos(services, mirror, document, entry.createdAt);
      // A write that failed while this ran joined the entry: it may stand for a newer state, so the entry stays.
      await services.prisma.pendingSync.deleteMany({
        where: { target: mirrorTarget, pubkey: document.pubkey, documentId: document.id, attempts: entry.attempts, writes: entry.writes },
      });
      outcomes.push({ ...document, outcome });
    } catch (error) {
      const message = safeErrorMessage(error, secrets);
      await rescheduleAfterFailure(services.prisma, entry, message, now);
      outcomes.push({ ...document, outcome: 'failed', error: message });
    }
  }
  return outcomes;
}

/**
 * THE write of a pending entry to Cosmos: the document's current PostgreSQL state, its deletion, or nothing when
 * Cosmos's copy is newer (see {@link retryPendingSync}). Throws whatever the read or the write throws.
 */
async function copyToCosmos(
  services: AppContext,
  mirror: Repositories,
  document: PendingDocument,
  firstFailure: Date,
): Promise<Exclude<PendingSyncOutcome['outcome'], 'failed'>> {
  const type = documentTypeOf(document.type);
  if (!type) throw new Error(`unknown document type "${document.type}"`);
  const row = await readRow(services.prisma, type, document.id, document.pubkey);
  const current = row && rowToDocument(type, row);
  const primaryTs = row ? Number(row.cosmosTs) : Math.floor(firstFailure.getTime() / 1000);
  const { resource: copy } = await services.cosmos.item(document.id, document.pubkey).read<Record<string, unknown>>();
  if (writtenInCosmosSince(copy, primaryTs)) return 'superseded';
  if (current) {
    await repositoryFor(mirror, type).upsert(current as DocumentsByType[typeof type]);
    return 'written';
  }
  await repositoryFor(mirror, type).delete(document.id, document.pubkey);
  return 'deleted';
}

/**
 * Whether Cosmos's copy was written there after PostgreSQL's state: a write of its own (not the mirror's copy of
 * an earlier PostgreSQL version, which PostgreSQL's current state follows whatever the clocks say) with a later `_ts`.
 */
function writtenInCosmosSince(copy: Record<string, unknown> | undefined, primaryTs: number): boolean {
  return copy !== undefined && mirrorCopyHash(copy) === undefined && typeof copy._ts === 'number' && copy._ts > primaryTs;
}

function repositoryFor(repositories: Repositories, type: DocumentType): DocumentRepository {
  return repositories[type];
}
