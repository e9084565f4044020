import { secretsOf } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';
import { createCosmosRepositories } from '../cosmos/cosmos-repository.js';
import { type DocumentsByType, type DocumentType, documentTypeOf } from '../domain/document-types.js';
import { rowToDocument } from '../domain/mapping.js';
import { mirrorCopyHash } from '../domain/mirror-copy.js';
import type { DocumentRepository, Repositories } from '../domain/repository-contract.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { readRow } from '../postgres/prisma-repository.js';

/**
 * Dual mode with PostgreSQL primary: documents whose Cosmos copy may be stale because a mirror write
 * failed. Entries name a document, not a change: a retry copies the primary's state as it is now
 * (or deletes the copy if the document is gone), so retries are idempotent and their order does not
 * matter. Rows with other targets belong to the change-feed sync and are left alone here.
 */
export const mirrorTarget = 'cosmos';

const firstDelayMs = 10_000;
const maxDelayMs = 15 * 60_000;

export interface PendingDocument {
  /** The canonical document type (`account-settings` also for `user-settings` documents). */
  type: string;
  pubkey: string;
  id: string;
}

/** When to try again after `attempts` failures: 10 s, doubling, at most 15 minutes. */
export function nextAttemptAt(attempts: number, now: Date): Date {
  const delay = Math.min(firstDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 20), maxDelayMs);
  return new Date(now.getTime() + delay);
}

/**
 * Records that `document`'s Cosmos copy needs a retry, or bumps the attempts of an existing entry.
 * `error` must already be safe to store (see `safeErrorMessage`). Returns when the entry is due.
 */
export async function recordPendingSync(prisma: PrismaClient, document: PendingDocument, error: string, now = new Date()): Promise<Date> {
  const key = { target: mirrorTarget, pubkey: document.pubkey, documentId: document.id };
  const existing = await prisma.pendingSync.findUnique({ where: { target_pubkey_documentId: key }, select: { attempts: true } });
  const attempts = (existing?.attempts ?? 0) + 1;
  const nextAttempt = nextAttemptAt(attempts, now);
  await prisma.pendingSync.upsert({
    where: { target_pubkey_documentId: key },
    create: { ...key, documentType: document.type, attempts, lastError: error, nextAttempt },
    update: { documentType: document.type, attempts: { increment: 1 }, lastError: error, nextAttempt },
  });
  return nextAttempt;
}

export interface PendingSyncBacklog {
  /** Entries waiting, due or not. */
  count: number;
  /** When the first of them is due; undefined when there are none. */
  nextAttempt?: Date;
}

/** How many documents wait for their Cosmos copy, and when the first is due. */
export async function pendingSyncBacklog(prisma: PrismaClient): Promise<PendingSyncBacklog> {
  const { _count, _min } = await prisma.pendingSync.aggregate({
    where: { target: mirrorTarget },
    _count: true,
    _min: { nextAttempt: true },
  });
  return { count: _count, nextAttempt: _min.nextAttempt ?? undefined };
}

export interface RetryPendingSyncOptions {
  /** Most entries to handle in this call (default 100). */
  limit?: number;
  /** The clock: entries whose `nextAttempt` is at or before it are due (default: now). */
  now?: Date;
}

export interface PendingSyncOutcome extends PendingDocument {
  /** `superseded`: Cosmos already holds a newer write (e.g. made after a switch back to Cosmos), left as it is. */
  outcome: 'written' | 'deleted' | 'superseded' | 'failed';
  error?: string;
}

/**
 * Copies each due document's current PostgreSQL state to Cosmos (or deletes the Cosmos copy if the
 * document is gone), unless the Cosmos copy was written after that state: after a rollback to Cosmos
 * as primary, the service writes to Cosmos directly, and a late retry must not undo those writes.
 * PostgreSQL's version is the row's `cosmosTs` (the second of its last write there); a deleted row's is
 * the first failure's time. A success removes the entry; a failure reschedules it with backoff. Returns one
 * outcome per entry handled; throws only if PostgreSQL itself cannot be read or Cosmos is not configured.
 */
export async function retryPendingSync(services: AppContext, options: RetryPendingSyncOptions = {}): Promise<PendingSyncOutcome[]> {
  const now = options.now ?? new Date();
  const due = await services.prisma.pendingSync.findMany({
    where: { target: mirrorTarget, nextAttempt: { lte: now } },
    orderBy: { nextAttempt: 'asc' },
    take: options.limit ?? 100,
  });
  if (due.length === 0) return [];

  const mirror = createCosmosRepositories(services.cosmos, { markAsMirrorCopies: true });
  const secrets = secretsOf(services.config);
  const outcomes: PendingSyncOutcome[] = [];
  for (const entry of due) {
    const document = { type: entry.documentType, pubkey: entry.pubkey, id: entry.documentId };
    try {
      const type = documentTypeOf(entry.documentType);
      if (!type) throw new Error(`unknown document type "${entry.documentType}"`);
      const row = await readRow(services.prisma, type, document.id, document.pubkey);
      const current = row && rowToDocument(type, row);
      const primaryTs = row ? Number(row.cosmosTs) : Math.floor(entry.createdAt.getTime() / 1000);
      const { resource: copy } = await services.cosmos.item(document.id, document.pubkey).read<Record<string, unknown>>();
      const outcome: PendingSyncOutcome['outcome'] = writtenInCosmosSince(copy, primaryTs) ? 'superseded' : current ? 'written' : 'deleted';
      if (outcome === 'written' && current) await repositoryFor(mirror, type).upsert(current as DocumentsByType[typeof type]);
      if (outcome === 'deleted') await repositoryFor(mirror, type).delete(document.id, document.pubkey);
      // A failure recorded while this ran bumped `attempts`: that entry may stand for a newer state, so it stays.
      await services.prisma.pendingSync.deleteMany({
        where: { target: mirrorTarget, pubkey: document.pubkey, documentId: document.id, attempts: entry.attempts },
      });
      outcomes.push({ ...document, outcome });
    } catch (error) {
      const message = safeErrorMessage(error, secrets);
      await recordPendingSync(services.prisma, document, message, now);
      outcomes.push({ ...document, outcome: 'failed', error: message });
    }
  }
  return outcomes;
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
